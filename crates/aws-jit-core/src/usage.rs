//! How to use granted Identity Center access: the console shortcut through the access
//! portal and a CLI profile. The Slack message and the web UI show the same.

use crate::slack::Instructions;

/// The console shortcut and the CLI profile for one account and role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoUsage {
    /// The access portal's link that opens the console as the role, when the portal is
    /// known.
    pub console_url: Option<String>,
    /// The profile's name (`jit-ACCOUNT-ROLE`).
    pub profile: String,
    /// What to add to `~/.aws/config`.
    pub config: String,
    /// The command that proves it works.
    pub check: String,
}

/// The portal's start URL when it is not known.
const PORTAL_PLACEHOLDER: &str = "https://<your-portal>.awsapps.com/start";

/// The console shortcut and CLI profile for `role` on `account`.
pub fn sso_usage(account: &str, role: &str, how: &Instructions) -> SsoUsage {
    let start = how
        .start_url
        .as_deref()
        .map(|u| u.trim_end_matches('/').to_owned());
    let console_url = start
        .as_ref()
        .map(|url| format!("{url}/#/console?account_id={account}&role_name={role}"));
    let start_url = start.unwrap_or_else(|| PORTAL_PLACEHOLDER.to_owned());
    let region = how.sso_region.as_deref().unwrap_or("us-east-1");
    let profile = format!("jit-{account}-{role}");
    let config = format!(
        "[sso-session aws-jit]\nsso_start_url = {start_url}\nsso_region = {region}\n\n[profile {profile}]\nsso_session = aws-jit\nsso_account_id = {account}\nsso_role_name = {role}"
    );
    let check = format!("aws --profile {profile} sts get-caller-identity");
    SsoUsage {
        console_url,
        profile,
        config,
        check,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_console_link_needs_the_portal() {
        let how = Instructions {
            start_url: Some("https://d-1.awsapps.com/start/".to_owned()),
            sso_region: Some("eu-west-1".to_owned()),
            account_alias: None,
        };
        let usage = sso_usage("123456789012", "ReadOnly", &how);
        assert_eq!(
            usage.console_url.as_deref(),
            Some(
                "https://d-1.awsapps.com/start/#/console?account_id=123456789012&role_name=ReadOnly"
            )
        );
        assert!(usage.config.contains("sso_region = eu-west-1"));
        assert_eq!(usage.profile, "jit-123456789012-ReadOnly");
        let unknown = sso_usage("123456789012", "ReadOnly", &Instructions::default());
        assert_eq!(unknown.console_url, None);
        assert!(unknown.config.contains(PORTAL_PLACEHOLDER));
    }
}
