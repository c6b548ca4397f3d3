import type { AuthProvider } from 'react-admin';
import type { Caller, SignOut } from './api-types';
import { goToSignIn, request, signInAvailable } from './http';

/** Who the API says is calling (`via: disabled` when AUTH_DISABLED=true lets everyone in as an operator). */
type Me = Caller;

/** Who the API says is signed in; asked once per page load. */
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
 * unknown caller is sent there, and signing out follows the URL the API gives. Only when the API
 * cannot sign anyone in (API keys only) or cannot be reached does the console show its own page
 * (SignInPage) instead.
 */
export const authProvider: AuthProvider = {
  login: () => goToSignIn('/admin/'),
  async logout() {
    const caller = await me?.catch(() => undefined);
    me = undefined;
    // Nobody signed in (a failed check lands here too): nothing to end, react-admin shows SignInPage.
    if (caller?.via !== 'session') return;
    const { redirect } = await request<SignOut>('/auth/logout', { method: 'POST' });
    window.location.assign(redirect);
    return false;
  },
  async checkAuth() {
    try {
      await whoAmI();
    } catch (error) {
      if ((error as { status?: number }).status === 401 && (await signInAvailable())) return goToSignIn();
      throw { message: false }; // SignInPage says what is wrong
    }
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
