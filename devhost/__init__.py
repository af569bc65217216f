"""Local development stack: emulators, a local Functions host and a development token
issuer, so the demo and the end-to-end tests run without Azure Functions Core Tools."""
