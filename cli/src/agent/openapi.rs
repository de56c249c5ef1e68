//! The agent's OpenAPI 3.1 document, generated from the handlers' annotations and the types
//! they take and answer, so clients can be generated in any language.

use std::sync::LazyLock;

use utoipa::{
	openapi::{
		path::{Operation, PathItem},
		response::ResponseBuilder,
		security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme},
		ContentBuilder, Ref,
	},
	Modify, OpenApi,
};

use super::{problem::ProblemDocument, routes};
use crate::commands::streams::PartyRole;

#[derive(OpenApi)]
#[openapi(
	info(
		title = "keyorch agent",
		description = "A local HTTP API over one keyorch identity: stream requests, status, \
		               rotation, revocation, and messages sealed and opened with stream keys. \
		               Errors are RFC 9457 problem details."
	),
	paths(
		routes::health,
		routes::openapi_document,
		routes::request_stream,
		routes::list_streams,
		routes::stream_status,
		routes::rotate,
		routes::revoke,
		routes::close,
		routes::report_usage,
		routes::seal,
		routes::open,
		routes::export_keys,
		routes::stream_events,
		routes::metrics,
	),
	// Schemas that only a query parameter refers to are not collected by themselves.
	components(schemas(ProblemDocument, PartyRole)),
	modifiers(&Conventions)
)]
struct AgentApi;

/// Paths open to every caller: no token.
const OPEN_PATHS: [&str; 2] = ["/v1/health", "/v1/openapi.json"];

/// What every operation shares, added once instead of on each handler: a problem answer for
/// every error status, and the bearer token everywhere but [`OPEN_PATHS`].
struct Conventions;

impl Modify for Conventions {
	fn modify(&self, api: &mut utoipa::openapi::OpenApi) {
		let components = api.components.get_or_insert_with(Default::default);
		components
			.add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
		let problem = ResponseBuilder::new()
			.description("a problem (RFC 9457); on a Unix socket of the agent no token is needed")
			.content(
				"application/problem+json",
				ContentBuilder::new()
					.schema(Some(Ref::from_schema_name("ProblemDocument")))
					.build(),
			)
			.build();
		for (path, item) in api.paths.paths.iter_mut() {
			for operation in operations(item) {
				operation.responses.responses.insert("default".into(), problem.clone().into());
				if !OPEN_PATHS.contains(&path.as_str()) {
					operation.security =
						Some(vec![SecurityRequirement::new("bearer", Vec::<String>::new())]);
				}
			}
		}
	}
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
	[&mut item.get, &mut item.post].into_iter().flatten()
}

/// The document as JSON, made once.
pub fn document() -> &'static str {
	static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
		AgentApi::openapi().to_json().unwrap_or_else(|error| {
			format!("{{\"error\":\"the OpenAPI document cannot be written: {error}\"}}")
		})
	});
	&DOCUMENT
}

#[cfg(test)]
mod tests {
	use super::*;

	#[test]
	fn every_operation_has_its_problems_and_its_token() {
		let document: serde_json::Value = serde_json::from_str(document()).unwrap();
		let paths = document["paths"].as_object().unwrap();
		// The operations `routes::router` serves, listed again here by hand; that each documented
		// one is served is checked against a running agent (tests/tests/agent.rs).
		let mut documented: Vec<String> = paths
			.iter()
			.flat_map(|(path, item)| {
				item.as_object().unwrap().keys().map(move |method| format!("{method} {path}"))
			})
			.collect();
		documented.sort();
		let served = [
			"get /metrics",
			"get /v1/health",
			"get /v1/openapi.json",
			"get /v1/streams",
			"get /v1/streams/{id}",
			"get /v1/streams/{id}/events",
			"get /v1/streams/{id}/keys/{epoch}",
			"post /v1/streams",
			"post /v1/streams/{id}/close",
			"post /v1/streams/{id}/open",
			"post /v1/streams/{id}/revoke",
			"post /v1/streams/{id}/rotate",
			"post /v1/streams/{id}/seal",
			"post /v1/usage",
		];
		let mut served = served.map(String::from).to_vec();
		served.sort();
		assert_eq!(documented, served);
		// An empty body is `{}`: the revocation's reason is optional.
		let revoke = &paths["/v1/streams/{id}/revoke"]["post"]["requestBody"];
		assert!(revoke.is_object() && revoke["required"] != true, "{revoke}");
		let status = &paths["/v1/streams/{id}"]["get"];
		assert_eq!(status["security"][0]["bearer"], serde_json::json!([]));
		assert_eq!(
			status["responses"]["default"]["content"]["application/problem+json"]["schema"]["$ref"],
			"#/components/schemas/ProblemDocument"
		);
		assert!(paths["/v1/health"]["get"].get("security").is_none());
		let request = &document["components"]["schemas"]["RequestArgs"];
		assert_eq!(request["required"], serde_json::json!(["provider"]), "{request}");
	}
}
