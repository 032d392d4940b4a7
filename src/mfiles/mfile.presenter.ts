import type { Mfile } from './mfile.entity';

/** An Mfile as the API shows it: where its bytes are stored stays inside. */
export type PublicMfile = Omit<Mfile, 'blobKey'>;

/** Pure, Node-free presentation of an Mfile: the API, the webhook task and any other caller show the same fields. */
export function presentMfile(mfile: Mfile): PublicMfile {
  const { blobKey: _hidden, ...visible } = mfile;
  return visible;
}
