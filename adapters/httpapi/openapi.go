package httpapi

import _ "embed"

// OpenAPIDocument is the OpenAPI 3.1 description of this API, served at /v1/openapi.json.
// A test fails when a registered route is missing from it.
//
//go:embed openapi.json
var OpenAPIDocument []byte
