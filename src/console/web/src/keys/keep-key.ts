import { api, refreshSession, session, type WalletKey } from '../api';

/** Keeps a key secret just shown once: saved to the wallet of a logged-in user, else added to this session's keys. */
export async function keepKey(secret: string): Promise<void> {
  await api<WalletKey>('/session/keys', { method: 'POST', body: { key: secret, save: Boolean(session.value?.user) }, keyId: null });
  await refreshSession();
}
