// Package api serves the JSON API under /api/v1. Every request authenticates
// with "Authorization: Bearer <key>"; each route names the scope it needs.
// Every answer is one envelope, {"data": ..., "error": null} or
// {"data": null, "error": {"code": "...", "message": "..."}}, with the HTTP
// status that fits. Another user's object answers 404, like a missing one.
package api
