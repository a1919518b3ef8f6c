-- check: undeliverable_emails
-- flags: accounts whose address has a permanent failure or suppression (failed with severity
--   permanent, including suppress-bounce / suppress-complaint / suppress-unsubscribe) or a complaint,
--   from any Mailgun domain, with no delivery to it after the latest such event.
-- why: no sign-in link, reset or confirmation mail can reach the customer until delivery is fixed.
-- action: get a working address (or clear the suppression in Mailgun) before sending anything else.
-- requires: accounts, events
-- severity: high
WITH bad AS (
    SELECT *,
        row_number() OVER (PARTITION BY recipient_norm ORDER BY event_at DESC, domain, event_id) AS rn,
        count(*) OVER (PARTITION BY recipient_norm) AS failures
    FROM stg_events
    WHERE event_at < $as_of_end
      AND ((event = 'failed' AND severity = 'permanent') OR event = 'complained')
), delivered AS (
    SELECT recipient_norm, max(event_at) AS last_delivered_at
    FROM stg_events
    WHERE event = 'delivered' AND event_at < $as_of_end
    GROUP BY recipient_norm
)
SELECT
    a.account_id,
    a.email,
    b.event_at AS failed_at,
    b.domain AS failure_domain,
    b.event AS failure_event,
    b.reason AS failure_reason,
    b.delivery_code,
    b.delivery_description,
    b.failures,
    d.last_delivered_at,
    'high' AS severity,
    concat(
        CASE WHEN b.event = 'complained' THEN 'spam complaint' ELSE 'permanent failure' END,
        CASE WHEN b.reason IS NOT NULL OR b.delivery_code IS NOT NULL
             THEN concat(' (', concat_ws(', ', b.reason, CAST(b.delivery_code AS VARCHAR)), ')') ELSE '' END,
        ' at ', strftime(b.event_at, '%Y-%m-%d %H:%M UTC'), ' from ', b.domain,
        CASE WHEN b.failures > 1 THEN concat('; ', b.failures, ' such events') ELSE '' END,
        '; last delivery: ', coalesce(strftime(d.last_delivered_at, '%Y-%m-%d %H:%M UTC'), 'none seen')
    ) AS evidence,
    CASE
        WHEN b.event = 'complained' OR b.reason = 'suppress-complaint'
            THEN concat('The address is on the complaints list of ', b.domain,
                        ': confirm with the customer that they want the mail, remove the suppression, then resend.')
        WHEN b.reason = 'suppress-unsubscribe'
            THEN concat('The address unsubscribed from ', b.domain,
                        ': remove the unsubscribe suppression if the customer agrees, then resend.')
        WHEN b.reason = 'suppress-bounce' OR b.delivery_code = 605
            THEN concat('The address is on the bounce list of ', b.domain,
                        ': confirm the mailbox works, remove the bounce suppression, then resend.')
        ELSE 'The mailbox rejects mail: ask the customer for a working address and update the account.'
    END AS action
FROM stg_accounts a
JOIN bad b ON b.recipient_norm = a.email_norm AND b.rn = 1
LEFT JOIN delivered d ON d.recipient_norm = a.email_norm
WHERE d.last_delivered_at IS NULL OR d.last_delivered_at < b.event_at
ORDER BY a.account_id, a.source_line
