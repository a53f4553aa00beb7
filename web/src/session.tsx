// The signed-in session: the token (kept in sessionStorage, so it ends with the tab), who it belongs to,
// and why the last session ended (a 401 sends the user back to sign in with the server's reason).
import { useQueryClient } from '@tanstack/react-query';
import { createContext, type ReactNode, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import { api, setToken, setUnauthorizedHandler } from './api/client';
import type { Whoami } from './api/types';

const KEY = 'cohort-sync.token';
const WHO = 'cohort-sync.whoami';

interface Session {
  readonly token: string | null;
  readonly who: Whoami | null;
  /** Why the user was signed out, shown on the sign-in page. */
  readonly reason: string | null;
  signIn(token: string): Promise<void>;
  signOut(reason?: string): void;
}

const SessionContext = createContext<Session | null>(null);

function stored<T>(key: string): T | null {
  try {
    const raw = sessionStorage.getItem(key);
    return raw ? (JSON.parse(raw) as T) : null;
  } catch {
    return null;
  }
}

export function SessionProvider({ children }: { children: ReactNode }) {
  const queryClient = useQueryClient();
  const [token, setTokenState] = useState<string | null>(() => stored<string>(KEY));
  const [who, setWho] = useState<Whoami | null>(() => stored<Whoami>(WHO));
  const [reason, setReason] = useState<string | null>(null);
  setToken(token);

  const signOut = useCallback(
    (why?: string) => {
      sessionStorage.removeItem(KEY);
      sessionStorage.removeItem(WHO);
      setToken(null);
      setTokenState(null);
      setWho(null);
      setReason(why ?? null);
      queryClient.clear();
    },
    [queryClient],
  );

  useEffect(() => {
    setUnauthorizedHandler((message) => signOut(`Signed out: ${message}`));
  }, [signOut]);

  const signIn = useCallback(async (candidate: string) => {
    const trimmed = candidate.trim();
    const me = await api<Whoami>('/whoami', { tokenOverride: trimmed });
    sessionStorage.setItem(KEY, JSON.stringify(trimmed));
    sessionStorage.setItem(WHO, JSON.stringify(me));
    setToken(trimmed);
    setTokenState(trimmed);
    setWho(me);
    setReason(null);
  }, []);

  const value = useMemo(() => ({ token, who, reason, signIn, signOut }), [token, who, reason, signIn, signOut]);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
