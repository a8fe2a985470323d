// Package docs holds the documentation (*.md), the OpenAPI document of the
// HTTP API (openapi.yaml, embedded here for GET /openapi.yaml) and, in its
// test files, the checks that keep them true to the code.
package docs

import _ "embed" // OpenAPI is docs/openapi.yaml, built into the binary

// OpenAPI is the OpenAPI 3.1 document of the HTTP API (docs/openapi.yaml),
// which the service serves at GET /openapi.yaml. e2e/openapi_test.go checks
// it against a running server.
//
//go:embed openapi.yaml
var OpenAPI []byte
