package duplication

import (
	"strings"

	"github.com/tandem-kv/tandem/replica"
)

// A duplication's base checkpoint is pinned in the source replicas'
// catalogs under an owner named after the duplication, so checkpoint
// retention keeps it while the remote may still fetch its files, and a
// removed duplication's pins can be found again. The owner is built and
// parsed here only.

const pinPrefix = "dup:"

// PinOwner is the catalog pin owner of duplication id's base.
func PinOwner(id string) string { return pinPrefix + id }

// PinnedDuplication returns the duplication a catalog pin owner names,
// and false for owners that are not duplications'.
func PinnedDuplication(owner string) (id string, ok bool) {
	return strings.CutPrefix(owner, pinPrefix)
}

// pinBase pins base id for duplication dupID and unpins the duplication's
// older bases.
func pinBase(cat *replica.Catalog, id, dupID string) error {
	owner := PinOwner(dupID)
	if err := cat.Pin(id, owner); err != nil {
		return err
	}
	for _, v := range cat.List() {
		if v.ID == id {
			continue
		}
		for _, o := range v.PinnedBy {
			if o == owner {
				if err := cat.Unpin(v.ID, owner); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// unpinRemoved drops the base pins of removed duplications from a catalog.
func unpinRemoved(cat *replica.Catalog, removed map[string]bool) {
	for _, v := range cat.List() {
		for _, owner := range v.PinnedBy {
			if id, ok := PinnedDuplication(owner); ok && removed[id] {
				_ = cat.Unpin(v.ID, owner)
			}
		}
	}
}
