//! The OpenAPI 3.1 document of `/api/v1`, served at `/api/v1/openapi.json`.
//!
//! Generated from the code: the request and response bodies' schemas come from the very
//! types the handlers decode and encode (`core::api_request`, `core::views`, by
//! `schemars`), and the query parameters from the query types' fields. The operations are
//! listed once, here, next to the routes they describe; a test checks that every one of
//! them is routed (e2e `the_openapi_document_describes_every_route`), and schemathesis
//! checks every answer against the document.

use schemars::generate::{Contract, SchemaGenerator, SchemaSettings};
use schemars::{JsonSchema, Schema};
use serde_json::{Map, Value, json};

use aws_jit_core::api_request::{AuditParams, DecisionBody, ExtendBody, GrantBody, GrantsQuery};
use aws_jit_core::views::{AccessView, AuditView, GrantView, PendingView};

/// One operation of the API.
struct Operation {
    method: &'static str,
    path: &'static str,
    id: &'static str,
    summary: &'static str,
    /// Whether a bearer token is needed.
    authed: bool,
    request: Option<Value>,
    parameters: Vec<Value>,
    /// The success status and its body's schema.
    success: (&'static str, Value),
}

fn generator(contract: Contract) -> SchemaGenerator {
    SchemaSettings::draft2020_12()
        .with(|s| {
            s.definitions_path = "/components/schemas".into();
            s.meta_schema = None;
            s.contract = contract;
        })
        .into_generator()
}

/// The query parameters of a query type: one per property of its schema.
fn query_parameters<T: JsonSchema>(requests: &mut SchemaGenerator) -> Vec<Value> {
    let schema: Schema = requests.root_schema_for::<T>();
    let value = schema.to_value();
    let properties = value
        .get("properties")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    properties
        .into_iter()
        .map(|(name, mut schema)| {
            let description = schema
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or(Value::Null);
            // A query value is one string on the wire: nulls are left out, not sent.
            let single = schema
                .get("type")
                .and_then(Value::as_array)
                .and_then(|types| {
                    let kept: Vec<&Value> = types.iter().filter(|t| *t != "null").collect();
                    (kept.len() == 1)
                        .then(|| kept.first().map(|t| (*t).clone()))
                        .flatten()
                });
            if let (Some(only), Some(object)) = (single, schema.as_object_mut()) {
                object.insert("type".to_owned(), only);
            }
            json!({
                "name": name,
                "in": "query",
                "required": false,
                "description": description,
                "schema": schema,
            })
        })
        .collect()
}

fn id_parameter() -> Value {
    json!({
        "name": "id", "in": "path", "required": true,
        "description": "The grant's id.",
        "schema": { "type": "string", "minLength": 1, "maxLength": 64 },
    })
}

fn json_body(schema: &Schema, required: bool) -> Value {
    json!({
        "required": required,
        "content": { "application/json": { "schema": schema.clone().to_value() } },
    })
}

fn operations(requests: &mut SchemaGenerator, responses: &mut SchemaGenerator) -> Vec<Operation> {
    let grant = responses.subschema_for::<GrantView>().to_value();
    let access = responses.subschema_for::<AccessView>().to_value();
    let event = responses.subschema_for::<AuditView>().to_value();
    let pending = responses.subschema_for::<PendingView>().to_value();
    let grant_with_extra = json!({
        "allOf": [grant],
        "properties": {
            "capped_from": { "type": "string", "description": "The duration asked for, when it was capped." },
            "kept": { "type": "string", "description": "Why the assignment was kept (another grant or a standing assignment holds it)." },
        },
    });
    let page = |item: &Value, cursor: Value| {
        json!({
            "type": "object",
            "required": ["items", "next_cursor"],
            "properties": { "items": { "type": "array", "items": item }, "next_cursor": cursor },
        })
    };
    let grant_body = requests.subschema_for::<GrantBody>();
    let extend_body = requests.subschema_for::<ExtendBody>();
    let decision_body = requests.subschema_for::<DecisionBody>();
    let grants_query = query_parameters::<GrantsQuery>(requests);
    let audit_query = query_parameters::<AuditParams>(requests);
    let decide = |id, summary| Operation {
        method: "post",
        path: if id == "approveGrant" {
            "/grants/{id}/approve"
        } else {
            "/grants/{id}/deny"
        },
        id,
        summary,
        authed: true,
        request: Some(json_body(&decision_body, false)),
        parameters: vec![id_parameter()],
        success: ("200", grant.clone()),
    };
    vec![
        Operation {
            method: "get",
            path: "/me",
            id: "me",
            summary: "The token's name, role and user.",
            authed: true,
            request: None,
            parameters: Vec::new(),
            success: (
                "200",
                json!({
                    "type": "object",
                    "required": ["token", "role", "user", "on_behalf"],
                    "properties": {
                        "token": { "type": "string" },
                        "role": { "type": "string", "enum": ["requester", "approver", "admin"] },
                        "user": { "type": ["string", "null"] },
                        "on_behalf": { "type": "boolean" },
                    },
                }),
            ),
        },
        Operation {
            method: "get",
            path: "/accesses",
            id: "listAccesses",
            summary: "The accesses the caller may request (every access for tokens that request for others).",
            authed: true,
            request: None,
            parameters: Vec::new(),
            success: (
                "200",
                json!({
                    "type": "object",
                    "required": ["items"],
                    "properties": { "items": { "type": "array", "items": access } },
                }),
            ),
        },
        Operation {
            method: "post",
            path: "/grants",
            id: "createGrant",
            summary: "Request an access: 201 when granted, 202 when it waits for approval.",
            authed: true,
            request: Some(json_body(&grant_body, true)),
            parameters: Vec::new(),
            success: ("201", grant_with_extra.clone()),
        },
        Operation {
            method: "get",
            path: "/grants",
            id: "listGrants",
            summary: "Grants, newest first: one's own, or everyone's for approvers and admins.",
            authed: true,
            request: None,
            parameters: grants_query,
            success: ("200", page(&grant, json!({ "type": ["string", "null"] }))),
        },
        Operation {
            method: "get",
            path: "/grants/{id}",
            id: "getGrant",
            summary: "One grant.",
            authed: true,
            request: None,
            parameters: vec![id_parameter()],
            success: ("200", grant.clone()),
        },
        Operation {
            method: "post",
            path: "/grants/{id}/revoke",
            id: "revokeGrant",
            summary: "End a grant (or withdraw a request).",
            authed: true,
            request: None,
            parameters: vec![id_parameter()],
            success: ("200", grant_with_extra),
        },
        Operation {
            method: "post",
            path: "/grants/{id}/extend",
            id: "extendGrant",
            summary: "Move an active grant's expiry later, within its access's maximum.",
            authed: true,
            request: Some(json_body(&extend_body, false)),
            parameters: vec![id_parameter()],
            success: ("200", grant.clone()),
        },
        decide(
            "approveGrant",
            "Approve a pending request (never one's own).",
        ),
        decide("denyGrant", "Deny a pending request."),
        Operation {
            method: "get",
            path: "/audit",
            id: "listAudit",
            summary: "Audit events, oldest first: one's own, or everyone's for approvers and admins.",
            authed: true,
            request: None,
            parameters: audit_query,
            success: ("200", page(&event, json!({ "type": ["integer", "null"] }))),
        },
        Operation {
            method: "get",
            path: "/approvals",
            id: "listApprovals",
            summary: "The requests the caller may approve or deny now, oldest first, with who approved them so far.",
            authed: true,
            request: None,
            parameters: Vec::new(),
            success: ("200", page(&pending, json!({ "type": "null" }))),
        },
        Operation {
            method: "get",
            path: "/openapi.json",
            id: "openapi",
            summary: "This document.",
            authed: false,
            request: None,
            parameters: Vec::new(),
            success: ("200", json!({ "type": "object" })),
        },
    ]
}

/// The failures the API answers, and why.
const ERROR_STATUSES: &[(&str, &str)] = &[
    (
        "400",
        "The request is malformed (a field, a duration, a cursor).",
    ),
    ("401", "No token, or a token that is unknown or revoked."),
    ("403", "The token may not do this (the refusal is audited)."),
    (
        "404",
        "No such grant or access, or one the caller may not see.",
    ),
    (
        "405",
        "The route does not take this method (e.g. an empty grant id).",
    ),
    ("408", "The request did not arrive in time."),
    (
        "409",
        "The grant is not in a state for this, or another change is in progress.",
    ),
    ("413", "The body is too large."),
    ("415", "The body is not JSON."),
    (
        "422",
        "Well-formed, but not acceptable (e.g. a reason that is required).",
    ),
    ("502", "AWS failed the change."),
    (
        "503",
        "Busy (Retry-After), or the configs or the store are unavailable.",
    ),
];

/// The error body every failure answers with.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": { "type": "string" },
                    "message": { "type": "string" },
                },
            },
        },
    })
}

/// The document; `accesses` (the configured keys) are given as examples of `access`.
pub fn document(accesses: &[String]) -> Value {
    let mut requests = generator(Contract::Deserialize);
    let mut responses = generator(Contract::Serialize);
    let mut paths: Map<String, Value> = Map::new();
    for op in operations(&mut requests, &mut responses) {
        let (status, schema) = op.success;
        let mut answers = Map::new();
        answers.insert(
            status.to_owned(),
            json!({ "description": "Success.", "content": { "application/json": { "schema": schema } } }),
        );
        if op.id == "createGrant" {
            answers.insert(
                "202".to_owned(),
                json!({ "description": "Recorded; waiting for approval.", "content": { "application/json": { "schema": answers.get(status).and_then(|a| a.pointer("/content/application~1json/schema")).cloned().unwrap_or_default() } } }),
            );
            // What a client (or schemathesis's stateful phase) does next with the new id.
            let links: Map<String, Value> = [
                "getGrant",
                "revokeGrant",
                "extendGrant",
                "approveGrant",
                "denyGrant",
            ]
            .iter()
            .map(|id| {
                (
                    (*id).to_owned(),
                    json!({ "operationId": id, "parameters": { "id": "$response.body#/id" } }),
                )
            })
            .collect();
            for answered in [status, "202"] {
                if let Some(Value::Object(success)) = answers.get_mut(answered) {
                    success.insert("links".to_owned(), Value::Object(links.clone()));
                }
            }
        }
        // Every failure the API answers, each with the one error body: a status outside
        // this list is a defect that schemathesis reports.
        for (code, why) in ERROR_STATUSES {
            if op.authed || !matches!(*code, "401" | "403") {
                answers.insert(
                    (*code).to_owned(),
                    json!({ "description": why, "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }),
                );
            }
        }
        let mut operation = Map::new();
        operation.insert("operationId".to_owned(), json!(op.id));
        operation.insert("summary".to_owned(), json!(op.summary));
        operation.insert("parameters".to_owned(), json!(op.parameters));
        operation.insert("responses".to_owned(), Value::Object(answers));
        if let Some(body) = op.request {
            operation.insert("requestBody".to_owned(), body);
        }
        let security = if op.authed {
            json!([{ "bearer": [] }])
        } else {
            json!([])
        };
        operation.insert("security".to_owned(), security);
        if let Value::Object(methods) = paths.entry(op.path.to_owned()).or_insert_with(|| json!({}))
        {
            methods.insert(op.method.to_owned(), Value::Object(operation));
        }
    }
    let mut schemas = requests.take_definitions(true);
    schemas.extend(responses.take_definitions(true));
    schemas.insert("Error".to_owned(), error_schema());
    if let Some(access) = schemas
        .get_mut("GrantBody")
        .and_then(|b| b.pointer_mut("/properties/access"))
        .and_then(Value::as_object_mut)
        && !accesses.is_empty()
    {
        access.insert("examples".to_owned(), json!(accesses));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "aws-jit",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Just-in-time, time-boxed AWS access. Every answer is JSON; every refusal is audited.",
        },
        "servers": [{ "url": "/api/v1" }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "A token from `aws-jit token create`." },
            },
        },
    })
}
