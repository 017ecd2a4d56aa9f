// Package contact owns contacts: names and company, any number of labelled
// emails and phones with one primary each, details (birthday, spouse kept
// symmetric, children, pets, referral, loan-file notes), the stage and tags
// they are in, duplicates and merging, sharing with the other user, and the
// full-text index. Every function takes the acting user, checks the
// workspace is theirs, and answers NotFound for anything that is not, the
// same as for what does not exist. Every change writes its audit row and its
// log entry in the same transaction.
package contact
