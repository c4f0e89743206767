// Which account a credential speaks for, as it was when the credential was issued: the
// account's random id (a deleted account created again under the same name has another) and
// its two epochs (worker/storage/db/schema.ts, "Revocation"). Tokens carry it; a remembered
// Basic login keeps it; worker/auth/account-state.ts compares it with the account as it is now.
// A leaf: it imports nothing of Pier.

export interface AccountStamp {
  id: string;
  /** Moves when the secret changes or the account is disabled: every credential issued before dies. */
  credentialEpoch: number;
  /** Moves when what the account may do shrinks: access tokens issued before die. */
  accessEpoch: number;
}

/** What a refresh token carries: it holds no access, so only the credential epoch matters. */
export type CredentialStamp = Omit<AccountStamp, "accessEpoch">;

/** Why a stamp no longer opens anything, in words for the client; null while it still does. */
export function staleness(stamp: AccountStamp | CredentialStamp, now: AccountStamp): string | null {
  if (stamp.id !== now.id) return "the account it was issued to no longer exists";
  if (stamp.credentialEpoch !== now.credentialEpoch) return "the account's credentials changed since it was issued";
  if ("accessEpoch" in stamp && stamp.accessEpoch !== now.accessEpoch) return "the account's access changed since it was issued";
  return null;
}
