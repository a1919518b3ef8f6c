-- check: unconfirmed_accounts
-- flags: portal accounts whose email was never confirmed (confirmed_at is empty), with the fate of
--   the latest confirmation mail sent to that address from a portal Mailgun domain.
-- why: an unconfirmed account cannot sign in; whether the confirmation mail arrived decides the fix.
-- action: resend the confirmation mail; when the last one failed permanently, fix delivery first.
-- requires: accounts
-- severity: high when the last confirmation mail failed permanently, otherwise medium
WITH confirmations AS (
    SELECT *, row_number() OVER (
        PARTITION BY recipient_norm ORDER BY sent_at DESC, domain, message_key) AS rn
    FROM stg_messages
    WHERE domain_role = 'portal' AND mail_kind = 'confirmation'
), flagged AS (
    SELECT
        a.account_id,
        a.email,
        a.created_at,
        a.confirmation_sent_at,
        greatest(date_diff('day', a.created_at, $as_of_end), 0) AS days_waiting,
        c.sent_at AS last_confirmation_at,
        c.domain AS confirmation_domain,
        CASE
            WHEN NOT $events_given THEN 'unknown (no Mailgun events given)'
            WHEN c.sent_at IS NULL THEN 'never seen'
            ELSE c.outcome
        END AS confirmation_outcome,
        nullif(concat_ws(' ', c.failure_reason, CAST(c.failure_code AS VARCHAR)), '') AS confirmation_failure,
        a.login_activated,
        a.source_line
    FROM stg_accounts a
    LEFT JOIN confirmations c ON c.recipient_norm = a.email_norm AND c.rn = 1
    WHERE a.confirmed_at IS NULL
)
SELECT
    * EXCLUDE (source_line),
    CASE WHEN confirmation_outcome = 'failed permanently' THEN 'high' ELSE 'medium' END AS severity,
    concat(
        'never confirmed; signed up ', strftime(created_at, '%Y-%m-%d'),
        ' (waiting ', days_waiting, ' days); ',
        CASE
            WHEN last_confirmation_at IS NULL THEN 'latest confirmation mail: ' || confirmation_outcome
            ELSE concat('latest confirmation mail ', strftime(last_confirmation_at, '%Y-%m-%d %H:%M UTC'),
                        ' from ', confirmation_domain, ': ', confirmation_outcome,
                        CASE WHEN confirmation_failure IS NOT NULL THEN ' (' || confirmation_failure || ')' ELSE '' END)
        END,
        CASE WHEN login_activated = false THEN '; login is deactivated' ELSE '' END
    ) AS evidence,
    CASE
        WHEN login_activated = false
            THEN 'Re-activate login for this account, then resend the confirmation mail.'
        WHEN confirmation_outcome = 'failed permanently'
            THEN 'Fix delivery first (ask for a working address or clear the Mailgun suppression), '
                 || 'then resend the confirmation mail.'
        ELSE 'Resend the confirmation mail from the portal admin.'
    END AS action
FROM flagged
ORDER BY account_id, source_line
