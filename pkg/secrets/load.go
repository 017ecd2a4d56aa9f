package secrets

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/pi-crm/pi-crm/pkg/config"
)

// Load returns the appliance's ring: the systemd credential secret-keys
// when the unit has one, else the file secret-keys in dataDir (created
// when create is set: crmctl migrate on a development machine). A daemon
// without either gets nil and ErrNoCredential: it runs, and providers that
// need a secret say why they cannot send.
func Load(e *config.Env, dataDir string, create bool) (*Ring, error) {
	v, err := e.Credential(CredentialName)
	switch {
	case err == nil && v == "unset": // Ansible's word for a credential not configured
		return nil, fmt.Errorf("%s: %w", CredentialName, config.ErrNoCredential)
	case err == nil:
		r, err := Parse(v)
		if err != nil {
			return nil, fmt.Errorf("credential %s: %w", CredentialName, err)
		}
		return r, nil
	case !errors.Is(err, config.ErrNoCredential):
		return nil, err
	}
	if e.CredentialPath(CredentialName) != "" && !create {
		// Under systemd a missing credential is a missing credential,
		// not a cue to look in the data folder.
		return nil, err
	}
	r, ferr := LoadFile(filepath.Join(dataDir, FileName), create)
	if ferr != nil && !create {
		return nil, fmt.Errorf("%w (and no %s in the data folder)", err, FileName)
	}
	return r, ferr
}
