// The first-start page behind the one-time setup link: the first visitor creates the owner (German and English).
import crypto from 'node:crypto';

const SCRIPT = `
const de = (navigator.language || '').toLowerCase().startsWith('de');
const t = de
  ? { title: 'Postfach einrichten', intro: 'Legen Sie den Inhaber an: er verwaltet Domains, Postfächer und Administratoren.', login: 'E-Mail-Adresse des Inhabers', password: 'Passwort', create: 'Inhaber anlegen', done: 'Der Inhaber ist angelegt und angemeldet. Dieser Link gilt nicht mehr.', notoken: 'Der Link ist unvollständig: öffnen Sie den Link aus der Startausgabe des Servers.' }
  : { title: 'Set up Postfach', intro: 'Create the owner: the owner manages domains, mailboxes and admin users.', login: "Owner's e-mail address", password: 'Password', create: 'Create owner', done: 'The owner is created and logged in. This link no longer works.', notoken: "The link is incomplete: open the link from the server's start-up output." };
document.documentElement.lang = de ? 'de' : 'en';
for (const el of document.querySelectorAll('[data-t]')) el.textContent = t[el.dataset.t];
const token = new URLSearchParams(location.hash.slice(1)).get('token');
const message = document.getElementById('message');
if (!token) message.textContent = t.notoken;
document.getElementById('setup').addEventListener('submit', async (event) => {
  event.preventDefault();
  const form = event.target;
  const response = await fetch('/api/v1/setup', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ token: token || '', login: form.login.value, password: form.password.value })
  });
  const body = await response.json();
  message.textContent = response.ok ? t.done : body.error.message;
  if (response.ok) form.hidden = true;
});
`;

const SCRIPT_HASH = crypto.createHash('sha256').update(SCRIPT).digest('base64');

/** Content-Security-Policy allowing only this page's own script (by hash) and requests to this server. */
export const SETUP_PAGE_CSP = `default-src 'none'; script-src 'sha256-${SCRIPT_HASH}'; style-src 'unsafe-inline'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'`;

export function setupPage(): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Postfach</title>
<style>
body { font-family: system-ui, sans-serif; max-width: 28rem; margin: 2rem auto; padding: 0 1rem; }
label { display: block; margin-top: 1rem; }
input { width: 100%; padding: .5rem; font-size: 1rem; box-sizing: border-box; }
button { margin-top: 1.5rem; padding: .6rem 1.2rem; font-size: 1rem; }
#message { margin-top: 1rem; font-weight: bold; }
</style>
</head>
<body>
<h1 data-t="title">Set up Postfach</h1>
<p data-t="intro"></p>
<form id="setup">
<label for="login" data-t="login"></label>
<input id="login" name="login" type="email" autocomplete="username" required>
<label for="password" data-t="password"></label>
<input id="password" name="password" type="password" autocomplete="new-password" required>
<button type="submit" data-t="create"></button>
</form>
<p id="message" role="status" aria-live="polite"></p>
<script>${SCRIPT}</script>
</body>
</html>
`;
}
