/** `herald admin secrets rotate <ring>`: where operators look for it; the work is `herald keys rotate`'s. */
import { runGroup, stdout, type GroupSpec, type Out } from './command-line.js';

const SECRETS: GroupSpec = {
  name: 'admin secrets',
  summary: "Herald's key rings in the data folder's secrets.json (the same as herald keys rotate).",
  subcommands: {
    rotate: {
      usage: 'rotate <endpointTokens|messageIds|tokenServer|consoleCsrf>',
      summary: 'add a key to a ring: new tokens are sealed with it, older keys still open theirs',
      run: async (argv, out) => (await import('./keys-rotate.js')).run(argv, out, 'admin secrets rotate'),
    },
  },
};

export function run(argv: string[], out: Out = stdout): Promise<number> {
  return runGroup(SECRETS, argv, out);
}
