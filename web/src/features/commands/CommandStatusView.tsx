import { reasonSentence, STATUS_WORDS, describeCommand, type ShownStatus } from "./wording";
import type { Step, TrackedCommand } from "./tracker";

/** One command and what became of it, in plain words, with every step it went through. */
export function CommandStatusView({ command, testId }: { command: TrackedCommand; testId?: string }) {
  const { current } = command;
  const words = STATUS_WORDS[current.status];
  return (
    <article
      className={`command tone-${words.tone}`}
      data-testid={testId ?? `command-${command.command_id}`}
      data-status={current.status}
      aria-label={`Command: ${command.action ? describeCommand(command.action, command.value) : command.command_id}`}
    >
      <header>
        <strong>
          {command.action ? describeCommand(command.action, command.value) : "A command sent earlier"}
        </strong>{" "}
        <StatusBadge status={current.status} />
      </header>
      <p className="command-sentence">{words.sentence}</p>
      {current.reason && (
        <p className="command-reason">
          <span className="sr-label">Reason: </span>
          {reasonSentence(current.reason)}
        </p>
      )}
      {current.detail && <p className="command-detail">Details: {current.detail}</p>}
      <StepList steps={command.history} />
    </article>
  );
}

export function StatusBadge({ status }: { status: ShownStatus }) {
  const words = STATUS_WORDS[status];
  return <span className={`badge badge-${words.tone}`}>{words.label}</span>;
}

export function StepList({ steps }: { steps: Step[] }) {
  return (
    <ol className="steps" aria-label="Status history">
      {steps.map((step, i) => (
        <li key={`${step.status}-${step.at}-${i}`}>
          <time dateTime={step.at}>{formatTime(step.at)}</time> {STATUS_WORDS[step.status].label}
          {step.reason && <> — {reasonSentence(step.reason)}</>}
          {step.detail && step.status !== "sending" && <span className="muted"> ({step.detail})</span>}
        </li>
      ))}
    </ol>
  );
}

export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleTimeString("en-GB", { hour12: false }) + `.${String(d.getMilliseconds()).padStart(3, "0")}`;
}
