/**
 * A throwaway CA and a server certificate it signs, made with openssl for
 * one test or bench run: `ca.pem`, `cert.pem` and `key.pem` in `dir`.
 * (tests/fixtures/tls/ holds a fixed pair for tests that need no openssl.)
 */
import { join } from "node:path";

export interface TestPki {
  ca: string;
  cert: string;
  key: string;
}

export async function makeTestPki(dir: string, subjectAltNames: string[]): Promise<TestPki> {
  const openssl = async (...args: string[]) => {
    const out = await new Deno.Command("openssl", {
      args,
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    })
      .output();
    if (!out.success) {
      throw new Error(`openssl ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    }
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await openssl(
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    "/CN=test CA",
  );
  await openssl("req", ...ec, "-keyout", "key.pem", "-out", "srv.csr", "-subj", "/CN=localhost");
  await Deno.writeTextFile(
    join(dir, "ext.cnf"),
    `subjectAltName=${
      subjectAltNames.join(",")
    }\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n`,
  );
  // deno-fmt-ignore
  await openssl("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
    "-out", "cert.pem", "-days", "2", "-extfile", "ext.cnf");
  const read = (f: string) => Deno.readTextFile(join(dir, f));
  return { ca: await read("ca.pem"), cert: await read("cert.pem"), key: await read("key.pem") };
}
