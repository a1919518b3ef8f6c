-- check: gitlab_password_resets
-- flags: accounts that got a password-reset mail from a GitLab.com Mailgun domain within the look-back
--   window and have not signed in to the portal since that mail.
-- why: portal password sign-in is deprecated; a GitLab.com reset does not let the customer into the
--   portal, so they are stuck. The sending domain, not the subject, tells the two systems apart.
-- action: send the customer a one-time sign-in link for the portal.
-- requires: accounts, events
-- severity: high
WITH resets AS (
    SELECT *,
        row_number() OVER (PARTITION BY recipient_norm ORDER BY sent_at DESC, domain, message_key) AS rn,
        count(*) OVER (PARTITION BY recipient_norm) AS resets_in_window
    FROM stg_messages
    WHERE domain_role = 'gitlab' AND mail_kind = 'password_reset'
      AND sent_at >= $window_start AND sent_at < $as_of_end
)
SELECT
    a.account_id,
    a.email,
    r.sent_at AS reset_at,
    r.domain AS reset_domain,
    r.subject AS reset_subject,
    r.outcome AS reset_outcome,
    r.resets_in_window,
    a.last_sign_in_at,
    a.login_activated,
    'high' AS severity,
    concat(
        'GitLab.com password reset "', r.subject, '" sent ', strftime(r.sent_at, '%Y-%m-%d %H:%M UTC'),
        ' from ', r.domain, ' (', r.outcome, ')',
        CASE WHEN r.resets_in_window > 1 THEN concat('; ', r.resets_in_window, ' resets in ', $lookback_days, ' days')
             ELSE '' END,
        '; last portal sign-in: ',
        coalesce(strftime(a.last_sign_in_at, '%Y-%m-%d %H:%M UTC'), 'never')
    ) AS evidence,
    CASE
        WHEN a.login_activated = false
            THEN 'Re-activate login for this account, then send a one-time sign-in link.'
        ELSE 'Send a one-time sign-in link: the reset came from GitLab.com and does not open the portal.'
    END AS action
FROM stg_accounts a
JOIN resets r ON r.recipient_norm = a.email_norm AND r.rn = 1
WHERE a.last_sign_in_at IS NULL OR a.last_sign_in_at < r.sent_at
ORDER BY a.account_id, a.source_line
