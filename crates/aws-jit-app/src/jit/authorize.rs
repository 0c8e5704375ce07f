//! The one decision point: every use case asks [`Jit::authorize`] before it acts, whatever
//! the path (CLI, API, Slack, MCP, Kubiya), and every refusal is an `access.refused` audit
//! event. The rules themselves are pure, in `core::authorize`.

use aws_jit_core::authorize::{self, Action, Refusal, Subject};
use aws_jit_core::{Actor, AuditAction, AuditEvent, Grant, Person};

use super::{AppError, Jit};

impl Jit {
    /// Whether `actor` may take `action` on `subject`; a refusal is audited (about `grant`,
    /// when there is one) and returned as [`AppError::NotAllowed`].
    pub async fn authorize(
        &self,
        actor: &Actor,
        action: Action,
        subject: &Subject<'_>,
        grant: Option<&Grant>,
    ) -> Result<(), AppError> {
        match authorize::decide(actor, action, subject) {
            Ok(()) => Ok(()),
            Err(refusal) => Err(self
                .refuse(actor, action, &subject.person().email, grant, refusal)
                .await),
        }
    }

    /// Asks whether `actor` may take `action` about `person`'s access. Rights alone (an
    /// admin, an approver's oversight, an on-behalf token) need no identity; otherwise the
    /// actor is resolved in the directory and must be that person, by user id (an actor the
    /// directory no longer knows is not a person it knows). About a grant the actor may not
    /// even see, the refusal is audited and answered as not found. Returns the actor, acting
    /// on the person's behalf when not them.
    pub(crate) async fn authorize_for(
        &self,
        actor: &Actor,
        action: Action,
        person: &Person,
        grant: Option<&Grant>,
    ) -> Result<Actor, AppError> {
        let subject = Subject::Person(person);
        if authorize::decide(&actor.rights_only(), action, &subject).is_ok() {
            return Ok(actor.for_person(person));
        }
        let actor = self.identify(actor).await?;
        // A person the directory knows by id is matched by id: an actor it does not know
        // (an address it no longer has) is not them, whatever the address.
        let unknown_now = person.id.is_some() && actor.own_person().is_some_and(|p| p.id.is_none());
        let judged = if unknown_now {
            actor.rights_only()
        } else {
            actor.clone()
        };
        let verdict = match authorize::decide(&actor, action, &subject) {
            Ok(()) if unknown_now => Err(Refusal(format!(
                "the directory does not know `{}` as the person `{}`: ask an approver",
                actor.own_person().map_or("", |p| p.email.as_str()),
                person.email
            ))),
            other => other,
        };
        match verdict {
            Ok(()) => Ok(actor.for_person(person)),
            Err(refusal) => {
                let error = self
                    .refuse(&actor, action, &person.email, grant, refusal)
                    .await;
                let sees = action != Action::View
                    && authorize::decide(&judged, Action::View, &subject).is_ok();
                match grant {
                    Some(grant) if !sees => Err(AppError::GrantNotFound(grant.id.to_string())),
                    _ => Err(error),
                }
            }
        }
    }

    /// Audits a refusal and returns it as the error to give the caller.
    pub(crate) async fn refuse(
        &self,
        actor: &Actor,
        action: Action,
        user: &str,
        grant: Option<&Grant>,
        refusal: Refusal,
    ) -> AppError {
        // The caller is told and the audit log records it; at warn it would repeat the
        // one-line error on a terminal.
        tracing::info!(%actor, %action, reason = %refusal, "refused");
        let event = AuditEvent {
            seq: 0,
            time: self.clock.now(),
            actor: actor.to_stored(),
            action: AuditAction::Refused,
            grant_id: grant.map(|g| g.id.to_string()).unwrap_or_default(),
            access: grant.map(|g| g.access.clone()).unwrap_or_default(),
            user: user.to_owned(),
            detail: format!("{action}: {refusal}"),
            prev_hash: String::new(),
            hash: String::new(),
        };
        if let Err(e) = self.store.append_audit(&event).await {
            tracing::error!(error = %e, "could not audit a refusal");
        }
        AppError::NotAllowed(refusal.0)
    }

    /// Whether `actor` may oversee everyone's grants (see `core::authorize::may_oversee`);
    /// a refusal is audited.
    pub async fn oversee(&self, actor: &Actor) -> Result<(), AppError> {
        match authorize::may_oversee(actor) {
            Ok(()) => Ok(()),
            Err(refusal) => Err(self.refuse(actor, Action::View, "", None, refusal).await),
        }
    }

    /// Whose grants and audit events `actor` may list (see `core::authorize::scope`); a
    /// refusal is audited.
    pub async fn scope(
        &self,
        actor: &Actor,
        asked: Option<&str>,
    ) -> Result<Option<String>, AppError> {
        let actor = self.identify(actor).await?;
        match authorize::scope(&actor, asked) {
            Ok(scope) => Ok(scope),
            Err(refusal) => Err(self
                .refuse(
                    &actor,
                    Action::View,
                    asked.unwrap_or_default(),
                    None,
                    refusal,
                )
                .await),
        }
    }
}
