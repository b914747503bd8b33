"""Port contract suites: each adapter's tests subclass one and supply the adapter."""
