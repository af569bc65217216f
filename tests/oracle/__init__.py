"""Independent references for the tests: expected figures computed from stored call
documents (plain JSON) by code written from docs/reference/, sharing no code with
`shared/` (the module under test). See tests/oracle/aggregates.py."""
