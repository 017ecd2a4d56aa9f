// Package auth owns who is acting: users and their passwords, log-in with
// throttling, server-side sessions with idle and absolute expiry, and API
// keys with scopes. It hands the rest of the code an Actor.
//
// Secrets are never stored in clear: passwords as bcrypt hashes, session
// tokens and API keys as SHA-256 hashes (they are 256-bit random values, so a
// fast hash is enough and lets a lookup be one indexed query).
package auth
