// Every screen and the navigation: a new screen is one module added here (most specific paths first).
import type { NavEntry, Screen } from '../app.js';
import { accountScreen } from './account.js';
import { accountsScreen, newAccountScreen } from './accounts.js';
import { addressesScreen } from './addresses.js';
import { adminsScreen } from './admins.js';
import { auditScreen } from './audit.js';
import { clientSetupScreen } from './client-setup.js';
import { domainScreen } from './domain.js';
import { domainsScreen } from './domains.js';
import { importJobScreen } from './import-job.js';
import { importsScreen } from './imports.js';
import { profileScreen } from './profile.js';
import { tokensScreen } from './tokens.js';

export const SCREENS: Screen[] = [
  domainsScreen,
  domainScreen,
  accountsScreen,
  newAccountScreen,
  clientSetupScreen,
  importsScreen,
  importJobScreen,
  accountScreen,
  addressesScreen,
  adminsScreen,
  tokensScreen,
  auditScreen,
  profileScreen
];

export const NAV: NavEntry[] = [
  { path: '/domains', label: 'nav.domains' },
  { path: '/accounts', label: 'nav.accounts' },
  { path: '/addresses', label: 'nav.addresses' },
  { path: '/admins', label: 'nav.admins', ownerOnly: true },
  { path: '/tokens', label: 'nav.tokens', ownerOnly: true },
  { path: '/audit', label: 'nav.audit', ownerOnly: true }
];
