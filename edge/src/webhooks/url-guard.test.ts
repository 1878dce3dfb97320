import { describe, expect, it } from "vitest";
import { checkWebhookUrl, type WebhookUrlPolicy } from "./url-guard.ts";

const production: WebhookUrlPolicy = { isDevelopment: false, devAllowedHosts: [] };
const development: WebhookUrlPolicy = { isDevelopment: true, devAllowedHosts: ["127.0.0.1"] };

describe("webhook URL guard", () => {
  it.each([
    "https://hooks.example.com/bd3",
    "https://example.com:8443/path?q=1",
    "https://8.8.8.8/hook",
    "https://[2606:4700:4700::1111]/hook",
    "https://hooks.example.com./hook",
  ])("accepts %s", (url) => {
    expect(checkWebhookUrl(url, production)).toEqual({ ok: true });
  });

  it.each([
    ["http://hooks.example.com/", "https"],
    ["ftp://hooks.example.com/", "https"],
    ["not a url", "absolute"],
    ["https://user:secret@hooks.example.com/", "credentials"],
    ["https://localhost/", "local"],
    ["https://api.localhost/", "local"],
    ["https://metadata.google.internal/", "local"],
    ["https://printer.local/", "local"],
    ["https://intranet/", "fully qualified"],
    ["https://127.0.0.1/", "private"],
    ["https://127.1/", "private"],
    ["https://0x7f000001/", "private"],
    ["https://2130706433/", "private"],
    ["https://0.0.0.0/", "private"],
    ["https://10.20.30.40/", "private"],
    ["https://172.16.0.1/", "private"],
    ["https://172.31.255.255/", "private"],
    ["https://192.168.1.1/", "private"],
    ["https://169.254.169.254/latest/meta-data", "private"],
    ["https://100.64.0.1/", "private"],
    ["https://100.100.100.200/", "private"],
    ["https://[::1]/", "private"],
    ["https://[::]/", "private"],
    ["https://[::ffff:127.0.0.1]/", "private"],
    ["https://[::ffff:a9fe:a9fe]/", "private"],
    ["https://[fe80::1]/", "private"],
    ["https://[fd00:ec2::254]/", "private"],
    ["https://[64:ff9b::a00:1]/", "private"],
    ["https://[2002:7f00:1::]/", "private"],
    ["https://[ff02::1]/", "private"],
    // Issue 21's measured bypasses of the hand-written ranges: an IPv4-translated literal, two trailing dots.
    ["https://[::ffff:0:7f00:1]/", "private"],
    ["https://[::ffff:0:a9fe:a9fe]/", "private"],
    ["https://hooks.example.com../", "empty labels"],
    ["https://localhost../", "empty labels"],
    ["https://hooks..example.com/", "empty labels"],
    // IPv6 forms that embed IPv4, and other special-purpose space.
    ["https://[::127.0.0.1]/", "private"],
    ["https://[64:ff9b:1::a00:1]/", "private"],
    ["https://[2001::1]/", "private"],
    ["https://[2001:db8::1]/", "private"],
    ["https://[2001:2::1]/", "private"],
    ["https://[2001:10::1]/", "private"],
    ["https://[100::1]/", "private"],
    ["https://192.0.2.1/", "private"],
    ["https://198.51.100.7/", "private"],
    ["https://203.0.113.9/", "private"],
    ["https://198.18.0.1/", "private"],
    ["https://240.0.0.1/", "private"],
    ["https://255.255.255.255/", "private"],
    ["https://224.0.0.1/", "private"],
    ["https://0300.0250.0.1/", "private"],
    ["https://localhost./", "local"],
  ])("refuses %s (%s)", (url, reason) => {
    const verdict = checkWebhookUrl(url, production);
    expect(verdict.ok).toBe(false);
    if (!verdict.ok) expect(verdict.reason).toContain(reason);
  });

  it("accepts http and listed hosts only in local development", () => {
    expect(checkWebhookUrl("http://hooks.example.com/", development)).toEqual({ ok: true });
    expect(checkWebhookUrl("http://127.0.0.1:9999/hook", development)).toEqual({ ok: true });
    expect(checkWebhookUrl("http://127.0.0.2:9999/hook", development).ok).toBe(false);
    expect(checkWebhookUrl("http://127.0.0.1:9999/hook", { ...development, isDevelopment: false }).ok).toBe(false);
  });

  it("accepts public IPv4 space next to the blocked ranges", () => {
    for (const host of ["172.32.0.1", "100.128.0.1", "169.255.0.1", "11.0.0.1", "198.20.0.1"]) {
      expect(checkWebhookUrl(`https://${host}/`, production)).toEqual({ ok: true });
    }
  });
});
