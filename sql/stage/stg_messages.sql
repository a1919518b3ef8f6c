-- stage: stg_messages
-- One row per Mailgun message and recipient: when it was sent and what became of it.
-- Mailgun logs one event per step (accepted, delivered, failed, opened, ...); the checks want the
-- message's fate, so this folds the steps. Only events before the end of the as-of day count.
-- No ORDER BY: every reader orders what it takes from here by explicit keys (a recipient's newest
-- message by sent_at, domain, message_key), and the reports are sorted when they are written.
WITH ev AS (
    SELECT *, coalesce(message_id, 'event:' || event_id) AS message_key
    FROM stg_events
    WHERE event_at < $as_of_end AND recipient_norm IS NOT NULL
)
SELECT
    domain,
    any_value(domain_role) AS domain_role,
    message_key,
    recipient_norm,
    CASE
        WHEN bool_or(mail_kind = 'password_reset') THEN 'password_reset'
        WHEN bool_or(mail_kind = 'confirmation') THEN 'confirmation'
        ELSE 'other'
    END AS mail_kind,
    min(subject) AS subject,
    min(event_at) AS sent_at,
    max(event_at) AS last_event_at,
    min(event_at) FILTER (WHERE event = 'delivered') AS delivered_at,
    CASE
        WHEN bool_or(event = 'delivered') THEN 'delivered'
        WHEN bool_or(event = 'failed' AND severity = 'permanent') THEN 'failed permanently'
        WHEN bool_or(event = 'rejected') THEN 'rejected by Mailgun'
        WHEN bool_or(event = 'failed') THEN 'failed temporarily'
        ELSE 'accepted, no delivery seen'
    END AS outcome,
    arg_max(reason, event_at) FILTER (WHERE event IN ('failed', 'rejected')) AS failure_reason,
    arg_max(delivery_code, event_at) FILTER (WHERE event IN ('failed', 'rejected')) AS failure_code
FROM ev
GROUP BY domain, message_key, recipient_norm
