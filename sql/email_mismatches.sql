-- check: email_mismatches
-- flags: accounts linked to GitLab.com (uid set) whose GitLab.com email differs from the portal email,
--   ignoring case and surrounding spaces.
-- why: the customer signs in or asks for help with one address while the subscription sits under the
--   other, and cannot find it.
-- action: tell the customer which address holds the subscription.
-- requires: accounts
-- severity: low
SELECT
    account_id,
    email,
    gitlab_email,
    uid AS gitlab_uid,
    'low' AS severity,
    concat('linked to GitLab.com user ', uid, ' whose email is ', gitlab_email,
           '; portal email is ', email) AS evidence,
    concat('Tell the customer the subscription is held by portal account ', account_id, ' (', email,
           '), while their GitLab.com account uses ', gitlab_email, '.') AS action
FROM stg_accounts
WHERE nullif(trim(uid), '') IS NOT NULL
  AND nullif(trim(gitlab_email), '') IS NOT NULL
  AND email_norm IS NOT NULL
  AND lower(trim(gitlab_email)) <> email_norm
ORDER BY account_id, source_line
