"use client";

import { createContext, useCallback, useContext, useEffect, useMemo, useRef, useState } from "react";
import { env } from "@/config/env";
import { useSession } from "@/features/auth/SessionProvider";
import {
  applyAck,
  applyRecord,
  noticeFor,
  track,
  unanswered,
  unfinished,
  type Tracked,
} from "@/features/commands/tracker";
import { commandRecordSchema, getJson } from "@/lib/api";
import { LiveConnection, socketUrl, type ConnectionState, type SocketLike } from "@/lib/connection";
import {
  commandFrame,
  type AlarmFrame,
  type Channels,
  type CloudFrame,
  type CommandFrame,
  type EdgeStatusFrame,
} from "@/lib/frames";

/**
 * One live connection for the whole dashboard: telemetry and edge status of
 * the subscribed sites, and the commands this tab follows.
 */

export interface Notice {
  id: number;
  commandId: string;
  text: string;
  tone: "progress" | "good" | "bad";
}

export interface LatestTelemetry {
  ts: string;
  channels: Channels;
}

export type TelemetryListener = (edgeId: string, ts: string, channels: Channels) => void;

export interface LiveApi {
  state: ConnectionState;
  /** Latest value of every channel per edge, merged over frames. */
  telemetry: ReadonlyMap<string, LatestTelemetry>;
  edgeStatus: ReadonlyMap<string, EdgeStatusFrame>;
  /** The newest `alarm` frame of each alarm (by id) of the subscribed sites. */
  alarms: ReadonlyMap<string, AlarmFrame>;
  commands: Tracked;
  notices: Notice[];
  dismiss: (id: number) => void;
  /** Server time minus this browser's time [ms], from the last `auth_ok`. */
  clockOffsetMs: number;
  subscribe: (edgeId: string) => () => void;
  onTelemetry: (listener: TelemetryListener) => () => void;
  sendCommand: (command: Omit<CommandFrame, "type" | "command_id" | "issued_at">) => string;
  retryNow: () => void;
  lastError: string | null;
}

const LiveContext = createContext<LiveApi | null>(null);
let noticeSeq = 0;

export function LiveProvider({ children }: { children: React.ReactNode }) {
  const { session, token, refresh } = useSession();
  const [state, setState] = useState<ConnectionState>({
    phase: "stopped",
    attempt: 0,
    retryAt: null,
    lastProblem: null,
  });
  const [telemetry, setTelemetry] = useState<ReadonlyMap<string, LatestTelemetry>>(new Map());
  const [edgeStatus, setEdgeStatus] = useState<ReadonlyMap<string, EdgeStatusFrame>>(new Map());
  const [alarms, setAlarms] = useState<ReadonlyMap<string, AlarmFrame>>(new Map());
  const [commands, setCommands] = useState<Tracked>(new Map());
  const [notices, setNotices] = useState<Notice[]>([]);
  const [clockOffsetMs, setClockOffsetMs] = useState(0);
  const [lastError, setLastError] = useState<string | null>(null);
  const commandsRef = useRef<Tracked>(commands);
  useEffect(() => {
    commandsRef.current = commands;
  }, [commands]);
  const listeners = useRef(new Set<TelemetryListener>());
  const connection = useRef<LiveConnection | null>(null);
  // Pages subscribe in their effects, which may run before the connection exists.
  const subscriptions = useRef(new Map<string, number>());
  const signedIn = Boolean(session);

  const notify = useCallback((commandId: string, text: string, tone: Notice["tone"]) => {
    noticeSeq += 1;
    const id = noticeSeq;
    setNotices((list) => [...list.slice(-4), { id, commandId, text, tone }]);
  }, []);

  /** After a reconnect: the outcome of every command whose last status we may have missed. */
  const catchUp = useCallback(async () => {
    const access = token();
    if (!access) return;
    const ids = [...unfinished(commandsRef.current), ...unanswered(commandsRef.current)];
    await Promise.all(
      ids.map(async (id) => {
        try {
          const record = await getJson(
            env.NEXT_PUBLIC_EMS_API_BASE,
            `/api/commands/${id}`,
            access,
            commandRecordSchema,
          );
          setCommands((s) => applyRecord(s, record));
        } catch {
          // Not recorded yet (never reached the cloud) or unreadable: the live acks still count.
        }
      }),
    );
  }, [token]);

  const handle = useCallback(
    (frame: CloudFrame) => {
      switch (frame.type) {
        case "auth_ok":
          setClockOffsetMs(Date.parse(frame.server_time) - Date.now());
          void catchUp();
          return;
        case "telemetry": {
          setTelemetry((map) => {
            const next = new Map(map);
            const known = map.get(frame.edge_id);
            next.set(frame.edge_id, {
              ts: frame.ts,
              channels: known ? { ...known.channels, ...frame.channels } : frame.channels,
            });
            return next;
          });
          for (const listener of listeners.current) listener(frame.edge_id, frame.ts, frame.channels);
          return;
        }
        case "edge_status":
          setEdgeStatus((map) => new Map(map).set(frame.edge_id, frame));
          return;
        case "alarm":
          setAlarms((map) => new Map(map).set(frame.alarm_id, frame));
          return;
        case "ack": {
          const text = noticeFor(frame.status, frame.reason);
          const known = commandsRef.current.get(frame.command_id);
          const repeat = known?.history.some((s) => s.status === frame.status && s.at === frame.at);
          setCommands((s) => applyAck(s, frame));
          if (text && !repeat) {
            const tone =
              frame.status === "executed" ? "good" : frame.status === "queued" ? "progress" : "bad";
            notify(frame.command_id, text, tone);
          }
          return;
        }
        case "error":
          setLastError(frame.detail ? `${frame.code}: ${frame.detail}` : frame.code);
          return;
      }
    },
    [catchUp, notify],
  );

  const handleRef = useRef(handle);
  useEffect(() => {
    handleRef.current = handle;
  }, [handle]);

  useEffect(() => {
    if (!signedIn) return undefined;
    const live = new LiveConnection({
      url: () => {
        const access = token();
        return access ? socketUrl(env.NEXT_PUBLIC_EMS_API_BASE, access, window.location) : null;
      },
      open: (url) => new WebSocket(url) as unknown as SocketLike,
      onFrame: (frame) => handleRef.current(frame),
      onState: setState,
      onUnauthorized: () => void refresh(),
      onBadFrame: (problem) => setLastError(`unreadable message from the cloud: ${problem}`),
    });
    connection.current = live;
    for (const edgeId of subscriptions.current.keys()) live.subscribe(edgeId);
    live.start();
    return () => {
      live.stop();
      connection.current = null;
      // Signing out forgets everything of the session.
      setTelemetry(new Map());
      setEdgeStatus(new Map());
      setAlarms(new Map());
      setCommands(new Map());
      setNotices([]);
    };
  }, [signedIn, token, refresh]);

  const subscribe = useCallback((edgeId: string) => {
    const counts = subscriptions.current;
    counts.set(edgeId, (counts.get(edgeId) ?? 0) + 1);
    connection.current?.subscribe(edgeId);
    return () => {
      const left = (counts.get(edgeId) ?? 1) - 1;
      if (left > 0) {
        counts.set(edgeId, left);
        return;
      }
      counts.delete(edgeId);
      connection.current?.unsubscribe(edgeId);
    };
  }, []);

  const onTelemetry = useCallback((listener: TelemetryListener) => {
    listeners.current.add(listener);
    return () => {
      listeners.current.delete(listener);
    };
  }, []);

  const sendCommand = useCallback<LiveApi["sendCommand"]>(
    (command) => {
      const frame = commandFrame(command, new Date(Date.now() + clockOffsetMs));
      const sent = connection.current?.send(frame) ?? false;
      setCommands((s) => track(s, frame, sent));
      if (!sent) notify(frame.command_id, "not sent: no connection to the cloud", "bad");
      return frame.command_id;
    },
    [clockOffsetMs, notify],
  );

  const api = useMemo<LiveApi>(
    () => ({
      state,
      telemetry,
      edgeStatus,
      alarms,
      commands,
      notices,
      dismiss: (id) => setNotices((list) => list.filter((n) => n.id !== id)),
      clockOffsetMs,
      subscribe,
      onTelemetry,
      sendCommand,
      retryNow: () => connection.current?.retryNow(),
      lastError,
    }),
    [state, telemetry, edgeStatus, alarms, commands, notices, clockOffsetMs, subscribe, onTelemetry, sendCommand, lastError],
  );
  return <LiveContext.Provider value={api}>{children}</LiveContext.Provider>;
}

export function useLive(): LiveApi {
  const api = useContext(LiveContext);
  if (!api) throw new Error("useLive outside LiveProvider");
  return api;
}
