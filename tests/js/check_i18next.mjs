// Loads exported i18next locale files with the real i18next and answers t() queries.
// Usage: node check_i18next.mjs LOCALES_DIR < queries.json
// queries: [{"lng": "ko", "key": "world/floods.title", "options": {...}}]; prints the answers as JSON.
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import i18next from "i18next";

const dir = process.argv[2];
const resources = {};
for (const lng of readdirSync(dir)) {
  resources[lng] = { articles: JSON.parse(readFileSync(join(dir, lng, "articles.json"), "utf8")) };
}
await i18next.init({ lng: "en", fallbackLng: false, ns: ["articles"], defaultNS: "articles", resources });
const queries = JSON.parse(readFileSync(0, "utf8"));
const answers = queries.map((q) => i18next.getFixedT(q.lng)(q.key, { ns: "articles", ...(q.options || {}) }));
process.stdout.write(JSON.stringify(answers));
