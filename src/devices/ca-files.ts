/**
 * Where Herald's CA keeps its files in the data folder, and what a TLS listener trusts for client
 * certificates. Plain file reads: the listeners load this at every start, and the X.509 library
 * (ca.ts) is loaded only when the CA is used.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

export interface CaFiles {
  folder: string;
  rootKey: string;
  rootCert: string;
  issuingKey: string;
  issuingCert: string;
  crl: string;
  rootCrl: string;
}

export function caFiles(dataDir: string): CaFiles {
  const folder = path.join(dataDir, 'ca');
  return {
    folder,
    rootKey: path.join(folder, 'root-key.pem'),
    rootCert: path.join(folder, 'root.pem'),
    issuingKey: path.join(folder, 'issuing-key.pem'),
    issuingCert: path.join(folder, 'issuing.pem'),
    crl: path.join(folder, 'crl.pem'),
    rootCrl: path.join(folder, 'root-crl.pem'),
  };
}

/**
 * What a TLS listener trusts for client certificates: the issuing certificate and the root, and
 * the CRLs of both (the root's is made at init); null when there is no CA.
 */
export function readClientTrust(dataDir: string): { ca: string; crl: string[] } | null {
  const files = caFiles(dataDir);
  if (!caExists(dataDir)) return null;
  const read = (file: string) => readFileSync(file, 'utf8');
  const crl = [files.crl, files.rootCrl].filter((file) => existsSync(file)).map(read);
  return { ca: `${read(files.issuingCert).trim()}\n${read(files.rootCert).trim()}\n`, crl };
}


export function caExists(dataDir: string): boolean {
  const files = caFiles(dataDir);
  return existsSync(files.issuingCert) && existsSync(files.issuingKey) && existsSync(files.rootCert);
}
