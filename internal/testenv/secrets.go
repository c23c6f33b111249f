package testenv

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// MountCampaignSecrets writes the Secrets the operator made for a campaign
// into dir/{keys,tls,admin}, as the kubelet mounts them into the collector's
// pod, removing files of keys the Secrets no longer hold.
func MountCampaignSecrets(ctx context.Context, c client.Reader, ns, campaign, dir string) error {
	for suffix, sub := range map[string]string{"-keys": "keys", "-tls": "tls", "-admin-token": "admin"} {
		s := &corev1.Secret{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: campaign + suffix}, s); err != nil {
			return fmt.Errorf("reading Secret %s%s: %w", campaign, suffix, err)
		}
		into := filepath.Join(dir, sub)
		if err := os.MkdirAll(into, 0o700); err != nil {
			return err
		}
		entries, err := os.ReadDir(into)
		if err != nil {
			return err
		}
		for _, e := range entries {
			if _, ok := s.Data[e.Name()]; !ok {
				if err := os.Remove(filepath.Join(into, e.Name())); err != nil {
					return err
				}
			}
		}
		for k, v := range s.Data {
			if err := os.WriteFile(filepath.Join(into, k), v, 0o600); err != nil {
				return err
			}
		}
	}
	return nil
}
