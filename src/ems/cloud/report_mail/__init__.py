"""Scheduled report e-mail (issue 19 item 9): subscriptions, their store, the mailer, routes.

``ReportMailer`` sends each subscribed site's report (PDF attached) at the end
of its local day, week or month, over the alarm core's SMTP client, and
retries a refused send; ``subscription_router`` serves
``/api/reports/subscriptions``.
"""

from ems.cloud.report_mail.mailer import ReportMailer, Sender
from ems.cloud.report_mail.model import MailStatus, NewSubscription, Subscription
from ems.cloud.report_mail.postgres import PostgresSubscriptionStore, subscription_store
from ems.cloud.report_mail.routes import subscription_router
from ems.cloud.report_mail.schedule import period_ending_after
from ems.cloud.report_mail.store import SqliteSubscriptionStore, SubscriptionStore

__all__ = [
    "MailStatus",
    "NewSubscription",
    "PostgresSubscriptionStore",
    "ReportMailer",
    "Sender",
    "SqliteSubscriptionStore",
    "Subscription",
    "SubscriptionStore",
    "period_ending_after",
    "subscription_router",
    "subscription_store",
]
