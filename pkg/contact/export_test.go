package contact

// KeyReloads tells tests how often the import loaded its duplicate keys.
func (in *Importer) KeyReloads() int { return in.reloads }
