import { useEffect, useRef, useState } from 'preact/hooks';
import { can } from '../api';
import { fileKind, previewOf } from './files';
import { watchPreview } from './preview-watcher';
import type { Mfile } from './types';

/** A listed picture or video this young without a preview is probably having one made: it is watched too. */
const RECENT_MS = 15 * 60 * 1000;

export interface PreviewWatch {
  /** Files whose picture is being awaited (shown as pending in the list or grid). */
  pending: ReadonlySet<string>;
  /** Awaits a file's picture, if it is a picture or video without one and the key may follow its jobs. */
  watch: (mfile: Mfile) => void;
}

/**
 * Pictures being made: each recent file of `files` (and each file handed to `watch`, such as a new upload) has its
 * picture-making jobs followed over their event streams until its thumbnail is there (see watchPreview), and
 * `onChange` gets the file each time it is read again. Every watch stops when the page goes.
 */
export function usePreviewWatch(files: Mfile[], keyId: string | null, onChange: (mfile: Mfile) => void): PreviewWatch {
  const [pending, setPending] = useState<ReadonlySet<string>>(new Set());
  const watched = useRef(new Set<string>());
  const stops = useRef(new Set<() => void>());
  const changed = useRef(onChange);
  changed.current = onChange;
  useEffect(() => () => stops.current.forEach((stop) => stop()), []);
  const watch = (mfile: Mfile) => {
    const kind = fileKind(mfile.mimetype);
    // only pictures and videos get one (the profile's thumbnail and video-poster steps)
    if (kind !== 'image' && kind !== 'video') return;
    if (previewOf(mfile) || watched.current.has(mfile.id) || !can('job:read') || !can('joboutput:read')) return;
    watched.current.add(mfile.id);
    setPending((ids) => new Set(ids).add(mfile.id));
    const stop = watchPreview(
      mfile.id,
      keyId,
      (updated) => changed.current(updated),
      () => {
        stops.current.delete(stop);
        setPending((ids) => {
          const next = new Set(ids);
          next.delete(mfile.id);
          return next;
        });
      },
    );
    stops.current.add(stop);
  };
  useEffect(() => {
    const now = Date.now();
    for (const mfile of files) if (now - new Date(mfile.createdAt).getTime() < RECENT_MS) watch(mfile);
  }, [files]);
  return { pending, watch };
}
