import type { AuthProvider } from 'react-admin';
import type { Caller, SignOut } from './api-types';
import { goToSignIn, request } from './http';

/** Who the API says is calling (`via: disabled` when AUTH_DISABLED=true lets everyone in as an operator). */
type Me = Caller;

/** Who the API says is signed in (a 401 sends the browser to sign in); asked once per page load. */
let me: Promise<Me> | undefined;
const whoAmI = () =>
  (me ??= request<Me>('/auth/me').catch((error) => {
    me = undefined;
    throw error;
  }));

/** What a viewer may do: read. An operator may do everything. */
const READ_ACTIONS = ['list', 'show', 'export'];

/**
 * Sign-in happens outside the single-page app: the API's /auth/login redirects to the identity
 * provider, which sends the browser back with a session cookie. So there is no login form here: an
 * unknown caller is sent there, and signing out follows the URL the API gives.
 */
export const authProvider: AuthProvider = {
  login: () => goToSignIn(),
  async logout() {
    me = undefined;
    const { redirect } = await request<SignOut>('/auth/logout', { method: 'POST' });
    window.location.assign(redirect);
    return false;
  },
  async checkAuth() {
    await whoAmI();
  },
  async checkError(error: { status?: number }) {
    if (error?.status === 401) await goToSignIn();
  },
  async getIdentity() {
    const { name, role, via } = await whoAmI();
    return { id: name, fullName: via === 'disabled' ? name : `${name} (${role})`, role, via };
  },
  getPermissions: async () => (await whoAmI()).role,
  async canAccess({ action }) {
    return READ_ACTIONS.includes(action) || (await whoAmI()).role === 'operator';
  },
};
