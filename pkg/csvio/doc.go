// Package csvio reads and writes the files contacts travel in: CSV from
// Google Contacts, Outlook and hand-made spreadsheets (any common encoding
// and delimiter), and vCard 3.0/4.0 from iPhone and Google. It turns their
// rows into contact fields through a column mapping, with automatic guesses
// for the well-known exports, and writes CSV that a spreadsheet opens
// safely. It reads as a stream: a file is never loaded whole.
package csvio
