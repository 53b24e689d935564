"""The tables.  Every table carries ``store_id`` and leads its keys and indexes with it.

Times are stored as timezone-aware UTC (``UtcDateTime``) so SQLite and PostgreSQL compare the
same way; money as ``Numeric``; payloads as JSON.  One module per topic and one ``metadata``;
the rest of the code imports the tables from here.
"""

from afterorder.db.schema.audit import audit_log
from afterorder.db.schema.channels import store_channel_settings, store_channels
from afterorder.db.schema.compliance import (
    attributions,
    consent_changes,
    consents,
    engagements,
    esp_credentials,
    marketing_caps,
    store_compliance,
    suppressions,
    tracking_settings,
)
from afterorder.db.schema.core import (
    customers,
    delivery_attempts,
    events,
    flow_runs,
    flow_versions,
    order_lines,
    orders,
    outbox,
    outbox_bodies,
    run_log,
    store_flows,
    stores,
)
from afterorder.db.schema.dashboard import (
    dashboard_members,
    dashboard_sessions,
    dashboard_users,
    login_failures,
    store_settings,
    template_overrides,
)
from afterorder.db.schema.experiments import ab_tests
from afterorder.db.schema.feedback import feedback_receipts, line_links
from afterorder.db.schema.library import (
    coupons,
    stock_subscriptions,
    store_content,
    survey_answers,
)
from afterorder.db.schema.platforms import (
    platform_connections,
    platform_fetches,
    platform_items,
    platform_orders,
    products,
    webhook_deliveries,
)
from afterorder.db.schema.segmentation import (
    customer_predictions,
    customer_stats,
    prediction_models,
    segments,
)
from afterorder.db.schema.store_webhooks import outgoing_webhooks
from afterorder.db.schema.types import Id, Money, UtcDateTime, metadata

__all__ = [
    "Id",
    "Money",
    "UtcDateTime",
    "ab_tests",
    "attributions",
    "audit_log",
    "consent_changes",
    "consents",
    "coupons",
    "customer_predictions",
    "customer_stats",
    "customers",
    "dashboard_members",
    "dashboard_sessions",
    "dashboard_users",
    "delivery_attempts",
    "engagements",
    "esp_credentials",
    "events",
    "feedback_receipts",
    "flow_runs",
    "flow_versions",
    "line_links",
    "login_failures",
    "marketing_caps",
    "metadata",
    "order_lines",
    "orders",
    "outbox",
    "outbox_bodies",
    "outgoing_webhooks",
    "platform_connections",
    "platform_fetches",
    "platform_items",
    "platform_orders",
    "prediction_models",
    "products",
    "run_log",
    "segments",
    "stock_subscriptions",
    "store_channel_settings",
    "store_channels",
    "store_compliance",
    "store_content",
    "store_flows",
    "store_settings",
    "stores",
    "suppressions",
    "survey_answers",
    "template_overrides",
    "tracking_settings",
    "webhook_deliveries",
]
