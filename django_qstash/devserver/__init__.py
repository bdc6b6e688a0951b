"""The dev server's pieces: credentials, admin login, HTTP listener with chunked bodies."""
