// The console in a real browser (Debian's chromium driven by playwright-core).
// Usage: node console.test.mjs <base-url> <admin-token> <read-token> <config-dir> <fixtures-dir> <screenshots-dir>
// Run by tests/console.rs, which starts the gateway. Exits non-zero on the first failure.
import { chromium } from 'playwright-core';
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, adminToken, readToken, configDir, fixtures, shots] = process.argv.slice(2);
if (!shots) { console.error('usage: console.test.mjs <base> <admin> <read> <config-dir> <fixtures> <shots>'); process.exit(2); }
mkdirSync(shots, { recursive: true });
const T = 15000;
let step = 'start';
const check = (ok, what) => { if (!ok) throw new Error(`check failed: ${what}`); };

async function post(url, body, contentType) {
  const r = await fetch(url, { method: 'POST', headers: { 'content-type': contentType }, body });
  const text = await r.text();
  check(r.status === 202, `${url.replace(/token=[^&]+/, 'token=…')} answered ${r.status} ${text}`);
  return JSON.parse(text);
}

// A fresh profile each run (playwright passes it as --user-data-dir).
const context = await chromium.launchPersistentContext(mkdtempSync(join(tmpdir(), 'alertgate-chromium-')), {
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  viewport: { width: 1280, height: 800 },
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
let failed = false;
try {
  const page = context.pages()[0] || await context.newPage();
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.setDefaultTimeout(T);

  step = 'sign in';
  const first = await page.goto(`${base}/ui`);
  check(first.status() === 200, 'GET /ui is 200 without a token');
  check((first.headers()['content-security-policy'] || '').includes("default-src 'self'"), 'CSP header');
  await page.fill('#token', adminToken);
  await page.click('button[type=submit]');
  await page.waitForSelector('h1:text("Incidents")');
  await page.waitForSelector('.live.on');
  check(!page.url().includes(adminToken), 'the token is not in the URL');
  const cookies = await context.cookies();
  check(cookies.length === 0, 'no cookies');

  step = 'create a source and post to its URL';
  await page.click('nav a[href="#/sources"]');
  await page.waitForSelector('#new-id');
  await page.fill('#new-id', 'console-cake');
  await page.selectOption('#new-integration', 'statuscake');
  await page.click('#new-create');
  const url = (await page.textContent('#new-url', { timeout: T })).trim();
  check(url.startsWith(`${base}/hooks/console-cake?token=`), `shown URL ${url}`);
  await page.screenshot({ path: join(shots, 'console-sources.png') });
  // The new source serves once the reload after the write is done.
  await post(url, readFileSync(join(fixtures, 'statuscake/down-basic.form')), 'application/x-www-form-urlencoded');

  step = 'incidents appear live';
  await page.click('nav a[href="#/incidents"]');
  await page.waitForSelector('#incidents tbody tr');
  await page.evaluate(() => { window.__noReload = 1; });
  await post(`${base}/hooks/statuspage?token=sp-console-token`, readFileSync(join(fixtures, 'statuspage/incident-investigating-critical.json')), 'application/json');
  const row = page.locator('#incidents tbody tr', { hasText: 'Virginia Is Down' });
  await row.waitFor();
  check(await page.evaluate(() => window.__noReload === 1), 'the page was not reloaded');
  await page.waitForSelector('.chart svg rect');
  await page.screenshot({ path: join(shots, 'console-incidents.png') });

  step = 'detail, acknowledge, resolve';
  await row.locator('a').click();
  await page.waitForSelector('h1:text("Virginia Is Down")');
  check((await page.textContent('main')).includes('incident:'), 'the fingerprint is shown');
  await page.click('#ack');
  await page.waitForSelector('#status :text("acknowledged")');
  await page.click('#resolve');
  await page.waitForSelector('#status :text("resolved")');
  await page.waitForSelector('#transitions li:has-text("resolved")');
  const transitions = await page.textContent('#transitions');
  check(transitions.includes('acknowledged') && transitions.includes('by user:alice'), `transitions: ${transitions}`);
  await page.fill('#note', 'checked the <b>database</b>');
  await page.click('button:text("Add note")');
  await page.waitForSelector('#transitions li:has-text("noted")');
  check(await page.locator('#transitions b').count() === 0, 'the note is text');
  await page.screenshot({ path: join(shots, 'console-incident.png') });
  // It moved: gone from the open list, in the resolved one.
  await page.goto(`${base}/ui#/incidents?status=open`);
  await page.waitForSelector('#incidents');
  await page.waitForTimeout(300);
  check(await page.locator('#incidents tbody tr', { hasText: 'Virginia Is Down' }).count() === 0, 'not listed as open');
  await page.selectOption('#f-status', 'resolved');
  await page.locator('#incidents tbody tr', { hasText: 'Virginia Is Down' }).waitFor();

  step = 'markup in a payload is inert';
  const evil = 'Token=x&Status=Down&StatusCode=500&URL=https%3A%2F%2Fevil.example&Name=%3Cscript%3Ewindow.__xss%3D1%3C%2Fscript%3E%3Cimg+src%3Dx+onerror%3Dwindow.__xss%3D2%3E&CheckRate=60';
  await page.selectOption('#f-status', 'open');
  await page.waitForSelector('#incidents');
  await post(url, evil, 'application/x-www-form-urlencoded');
  const evilRow = page.locator('#incidents tbody tr', { hasText: '<script>' });
  await evilRow.waitFor();
  await evilRow.locator('a').click();
  await page.waitForSelector('h1:has-text("<script>")');
  check(await page.evaluate(() => window.__xss === undefined), 'no script ran');
  check(await page.locator('main script, main img').count() === 0, 'no element was made from payload text');

  step = 'playground';
  await page.click('nav a[href="#/playground"]');
  await page.waitForSelector('#pg-source');
  await page.selectOption('#pg-source', 'statuscake');
  await page.selectOption('#pg-type', 'application/x-www-form-urlencoded');
  await page.fill('#pg-payload', readFileSync(join(fixtures, 'statuscake/down-basic.form'), 'utf8'));
  await page.click('#pg-run');
  await page.waitForSelector('.outcome-action');
  check((await page.textContent('.outcome-action')) === 'open', 'outcome open');
  check(await page.locator('#pg-out .steps li').count() > 0, 'steps shown');
  check(await page.locator('#pg-out .steps li.hit').count() > 0, 'the matched rule is highlighted');
  await page.click('#pg-test');
  check((await page.inputValue('#pg-test-yaml')).includes('action: open'), 'tests entry');
  await page.screenshot({ path: join(shots, 'console-playground.png') });

  step = 'reload error on the config page';
  const mapping = join(configDir, 'mappings', 'statuscake.yaml');
  writeFileSync(mapping, `${readFileSync(mapping, 'utf8')}\nrules: [\n`);
  await page.click('nav a[href="#/config"]');
  await page.waitForSelector('#reload');
  await page.click('#reload');
  await page.waitForSelector('#cfg-errors li');
  const errors = await page.textContent('#cfg-errors');
  check(/statuscake\.yaml:\d+:\d+/.test(errors), `reload error with file:line:col: ${errors}`);
  check((await page.textContent('main')).includes('Reload failed (HTTP 422'), 'the API error is shown');
  await page.screenshot({ path: join(shots, 'console-config.png') });

  step = 'a read token sees but cannot act';
  await page.click('#signout');
  await page.fill('#token', readToken);
  await page.click('button[type=submit]');
  await page.waitForSelector('#incidents tbody tr');
  await page.locator('#incidents tbody tr a').first().click();
  await page.waitForSelector('#ack');
  await page.click('#ack');
  await page.waitForSelector('.error:has-text("HTTP 403")');

  step = 'narrow screen';
  await page.setViewportSize({ width: 360, height: 740 });
  await page.goto(`${base}/ui#/incidents`);
  await page.waitForSelector('#incidents');
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 1, `no horizontal scroll at 360 px (${overflow})`);
  const cspErrors = consoleErrors.filter((e) => /Content Security Policy/i.test(e));
  check(cspErrors.length === 0, `CSP violations: ${cspErrors.join(' | ')}`);
  console.log('console browser test: every step passed');
} catch (e) {
  failed = true;
  console.error(`console browser test failed at "${step}": ${e.message}`);
} finally {
  await context.close();
}
process.exit(failed ? 1 : 0);
