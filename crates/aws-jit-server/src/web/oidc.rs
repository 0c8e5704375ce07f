//! Sign-in through the organisation's identity provider: OpenID Connect's authorization
//! code flow with PKCE (S256), through the `openidconnect` crate, over the shared HTTP
//! client (timeouts, capped answers, no redirects followed).
//!
//! The provider's metadata and signing keys are discovered at the first sign-in and kept
//! for [`METADATA_TTL`], so that a server starts while its identity provider is down and
//! picks up rotated keys within the hour. What the crate verifies about the ID token: its
//! signature (RS256 and the provider's other advertised algorithms, never `none`), issuer,
//! audience (and `azp`), expiry, and the `nonce` this sign-in sent.

use std::sync::Arc;
use std::time::{Duration, Instant};

use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, OAuth2TokenResponse,
    PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use tokio::sync::Mutex;

/// How long discovered metadata and keys are kept.
pub const METADATA_TTL: Duration = Duration::from_secs(3600);

/// The largest answer read from the identity provider.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// How to reach the identity provider.
#[derive(Clone)]
pub struct OidcSettings {
    /// The issuer URL (`https://login.example.com`), as the provider names itself.
    pub issuer: String,
    /// The client id registered for aws-jit.
    pub client_id: String,
    /// The client secret (a confidential client), if one was issued.
    pub client_secret: Option<String>,
    /// Email domains whose people may sign in (empty: any the provider vouches for).
    pub allowed_domains: Vec<String>,
    /// Accept an email the provider does not say it verified (`email_verified` absent):
    /// for providers that never send the claim. An email marked unverified is always
    /// refused.
    pub trust_unverified_email: bool,
}

impl std::fmt::Debug for OidcSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        f.debug_struct("OidcSettings")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .field("allowed_domains", &self.allowed_domains)
            .finish_non_exhaustive()
    }
}

/// A failure talking to the provider, or an answer that does not verify.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    /// The provider could not be reached or answered nonsense (the page says try later).
    #[error("the identity provider is not answering as it should: {0}")]
    Provider(String),
    /// The answer is not one to trust (forged, expired, for another client, replayed).
    #[error("{0}")]
    Untrusted(String),
}

/// The HTTP client's failure, as the crate needs it.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct HttpFailure(String);

/// The shared HTTP client, as the crate calls it (a `Send` future, capped answers).
struct Http(aws_jit_http::JsonClient);

impl<'c> openidconnect::AsyncHttpClient<'c> for Http {
    type Error = HttpFailure;
    type Future = std::pin::Pin<
        Box<dyn Future<Output = Result<openidconnect::HttpResponse, HttpFailure>> + Send + 'c>,
    >;

    fn call(&'c self, request: openidconnect::HttpRequest) -> Self::Future {
        Box::pin(async move {
            self.0
                .exchange(request, MAX_ANSWER_BYTES)
                .await
                .map_err(HttpFailure)
        })
    }
}

/// A sign-in about to leave for the provider.
#[derive(Debug)]
pub struct Departure {
    /// Where to send the browser.
    pub url: String,
    /// The `state`.
    pub state: String,
    /// The `nonce`.
    pub nonce: String,
    /// The PKCE verifier.
    pub pkce_verifier: String,
}

/// Who the provider says signed in.
#[derive(Debug, Clone)]
pub struct Identity {
    /// The email, lowercase.
    pub email: String,
    /// The subject (`sub`).
    pub subject: String,
}

/// The identity provider, as the web UI uses it.
pub struct Oidc {
    settings: OidcSettings,
    redirect: RedirectUrl,
    http: Http,
    metadata: Mutex<Option<(Instant, Arc<CoreProviderMetadata>)>>,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Oidc")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Oidc {
    /// The provider for `settings`, answering to `redirect` (this server's
    /// `/auth/callback`).
    pub fn new(settings: OidcSettings, redirect: &str) -> Result<Oidc, String> {
        IssuerUrl::new(settings.issuer.clone())
            .map_err(|e| format!("the OIDC issuer `{}` is not a URL: {e}", settings.issuer))?;
        let redirect = RedirectUrl::new(redirect.to_owned())
            .map_err(|e| format!("the web UI's URL `{redirect}` is not a URL: {e}"))?;
        let http = Http(aws_jit_http::JsonClient::new(Duration::from_secs(10))?);
        Ok(Oidc {
            settings,
            redirect,
            http,
            metadata: Mutex::new(None),
        })
    }

    /// The settings.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    async fn metadata(&self, refresh: bool) -> Result<Arc<CoreProviderMetadata>, OidcError> {
        let mut cached = self.metadata.lock().await;
        if !refresh
            && let Some((at, metadata)) = cached.as_ref()
            && at.elapsed() < METADATA_TTL
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(self.settings.issuer.clone())
            .map_err(|e| OidcError::Provider(e.to_string()))?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http)
            .await
            .map_err(|e| OidcError::Provider(error_chain(&e)))?;
        let metadata = Arc::new(metadata);
        *cached = Some((Instant::now(), metadata.clone()));
        Ok(metadata)
    }

    fn client(&self, metadata: &CoreProviderMetadata) -> CoreClientFor {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(self.settings.client_id.clone()),
            self.settings.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect.clone())
    }

    /// A new sign-in: where to send the browser, and what to keep until it comes back.
    pub async fn depart(&self) -> Result<Departure, OidcError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                CsrfToken::new_random,
                Nonce::new_random,
            )
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(Departure {
            url: url.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
        })
    }

    /// Exchanges the provider's code for tokens and verifies the ID token against the
    /// nonce and PKCE verifier this sign-in kept.
    pub async fn arrive(
        &self,
        code: &str,
        nonce: &str,
        pkce_verifier: &str,
    ) -> Result<Identity, OidcError> {
        let metadata = self.metadata(false).await?;
        let client = self.client(&metadata);
        let tokens = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Provider(e.to_string()))?
            .set_pkce_verifier(PkceCodeVerifier::new(pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| {
                OidcError::Untrusted(format!(
                    "the identity provider refused the sign-in code (expired, used already, or not issued for this sign-in): {}",
                    error_chain(&e)
                ))
            })?;
        let id_token = tokens.id_token().ok_or_else(|| {
            OidcError::Untrusted("the identity provider sent no ID token".to_owned())
        })?;
        let verifier = client.id_token_verifier();
        let claims = match id_token.claims(&verifier, &Nonce::new(nonce.to_owned())) {
            Ok(claims) => claims.clone(),
            Err(first) => {
                // The keys may have rotated since discovery: look again, once.
                let metadata = self.metadata(true).await?;
                let client = self.client(&metadata);
                let verifier = client.id_token_verifier();
                id_token
                    .claims(&verifier, &Nonce::new(nonce.to_owned()))
                    .map_err(|e| {
                        OidcError::Untrusted(format!(
                            "the ID token does not verify ({}; before the keys were fetched again: {})",
                            error_chain(&e),
                            error_chain(&first)
                        ))
                    })?
                    .clone()
            }
        };
        // The ID token's email, else the userinfo endpoint's (providers that conform to the
        // specification keep scope claims out of an ID token issued with an access token).
        let (email, verified) = match claims.email() {
            Some(email) => (Some(email.as_str().to_owned()), claims.email_verified()),
            None => {
                let info: openidconnect::core::CoreUserInfoClaims = client
                    .user_info(tokens.access_token().clone(), Some(claims.subject().clone()))
                    .map_err(|_| {
                        OidcError::Untrusted(
                            "the ID token carries no email and the provider has no userinfo endpoint: allow the `email` scope for aws-jit's client".to_owned(),
                        )
                    })?
                    .request_async(&self.http)
                    .await
                    .map_err(|e| {
                        OidcError::Provider(format!("userinfo: {}", error_chain(&e)))
                    })?;
                (
                    info.email().map(|e| e.as_str().to_owned()),
                    info.email_verified(),
                )
            }
        };
        match verified {
            Some(true) => {}
            None if self.settings.trust_unverified_email => {}
            Some(false) => {
                return Err(OidcError::Untrusted(
                    "the identity provider has not verified this account's email".to_owned(),
                ));
            }
            None => {
                return Err(OidcError::Untrusted(
                    "the identity provider does not say this account's email is verified (no `email_verified`): an administrator may set AWS_JIT_OIDC_TRUST_EMAIL=1 for a provider that never sends it".to_owned(),
                ));
            }
        }
        let email = email.map(|e| e.trim().to_lowercase()).ok_or_else(|| {
            OidcError::Untrusted(
                "the identity provider gave no email: allow the `email` scope for aws-jit's client"
                    .to_owned(),
            )
        })?;
        Ok(Identity {
            email,
            subject: claims.subject().as_str().to_owned(),
        })
    }
}

type CoreClientFor = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// An error and its sources, on one line.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    aws_jit_core::text::printable(&text)
        .chars()
        .take(400)
        .collect()
}
