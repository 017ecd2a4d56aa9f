// Package workspace owns workspaces, each user's separate business lines, and
// their settings. Every function takes the acting user and answers NotFound
// for a workspace that is not the actor's, exactly as for one that does not
// exist, so nothing leaks another user's workspaces.
package workspace
