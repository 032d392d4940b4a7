import { useState } from 'preact/hooks';
import { can, contentUrl } from '../api';
import { formatBytes, formatDate } from '../format';
import { fileKind, KIND_LABEL, previewOf } from './files';
import type { Mfile } from './types';

export type ViewMode = 'list' | 'grid';

const VIEW_KEY = 'mserve.browse.view';

export function rememberedView(): ViewMode {
  try {
    return localStorage.getItem(VIEW_KEY) === 'grid' ? 'grid' : 'list';
  } catch {
    return 'list';
  }
}

export function rememberView(view: ViewMode): void {
  try {
    localStorage.setItem(VIEW_KEY, view);
  } catch {
    /* private mode: the choice lasts for this page only */
  }
}

/** The file's picture (its thumbnail, or a video's poster), or a label naming its kind while there is none. */
function Preview({ mfile, pending }: { mfile: Mfile; pending: boolean }) {
  const [broken, setBroken] = useState<string | null>(null);
  const preview = can('joboutput:read') ? previewOf(mfile) : null;
  if (preview && broken !== preview.jobOutputId) {
    return (
      <img
        class="thumb"
        src={contentUrl(`/joboutputs/${preview.jobOutputId}/content`)}
        width={preview.width}
        height={preview.height}
        alt=""
        loading="lazy"
        decoding="async"
        onError={() => setBroken(preview.jobOutputId)}
      />
    );
  }
  const kind = fileKind(mfile.mimetype);
  return (
    <span class={`kind kind-${kind}${pending ? ' pending' : ''}`} aria-hidden="true">
      {KIND_LABEL[kind]}
    </span>
  );
}

export interface FileViewProps {
  files: Mfile[];
  view: ViewMode;
  /** Files whose picture is being made right now. */
  pending: ReadonlySet<string>;
  /** Files uploaded since the page opened, marked as new. */
  fresh: ReadonlySet<string>;
}

export function FileView(props: FileViewProps) {
  return props.view === 'grid' ? <FileGrid {...props} /> : <FileTable {...props} />;
}

function Status({ mfile, pending, fresh }: { mfile: Mfile; pending: ReadonlySet<string>; fresh: ReadonlySet<string> }) {
  return (
    <>
      {fresh.has(mfile.id) && <span class="pill pill-ok">New</span>}
      {pending.has(mfile.id) && !previewOf(mfile) && <span class="pill pill-muted">Making preview…</span>}
    </>
  );
}

function FileTable({ files, pending, fresh }: FileViewProps) {
  return (
    <div class="table-wrap">
      <table class="browse-table file-table">
        <caption class="sr-only">Files</caption>
        <thead>
          <tr>
            <th scope="col" class="preview-col">
              <span class="sr-only">Preview</span>
            </th>
            <th scope="col">Name</th>
            <th scope="col" class="optional">
              Type
            </th>
            <th scope="col" class="num">
              Size
            </th>
            <th scope="col" class="optional">
              Uploaded
            </th>
          </tr>
        </thead>
        <tbody>
          {files.map((mfile) => (
            <tr key={mfile.id} data-mfile-id={mfile.id} data-mfile-name={mfile.name}>
              <td class="preview-col">
                <a href={`/mfiles/${mfile.id}`} tabIndex={-1} aria-hidden="true">
                  <Preview mfile={mfile} pending={pending.has(mfile.id)} />
                </a>
              </td>
              <td class="name-col">
                <a href={`/mfiles/${mfile.id}`}>{mfile.name}</a> <Status mfile={mfile} pending={pending} fresh={fresh} />
              </td>
              <td class="optional">{mfile.mimetype}</td>
              <td class="num">{formatBytes(mfile.size)}</td>
              <td class="optional">{formatDate(mfile.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function FileGrid({ files, pending, fresh }: FileViewProps) {
  return (
    <ul class="file-grid" aria-label="Files">
      {files.map((mfile) => (
        <li key={mfile.id} data-mfile-id={mfile.id} data-mfile-name={mfile.name}>
          <a href={`/mfiles/${mfile.id}`} class="tile">
            <span class="tile-picture">
              <Preview mfile={mfile} pending={pending.has(mfile.id)} />
            </span>
            <span class="tile-name">{mfile.name}</span>
          </a>
          <span class="tile-meta">
            <span>{formatBytes(mfile.size)}</span> <Status mfile={mfile} pending={pending} fresh={fresh} />
          </span>
        </li>
      ))}
    </ul>
  );
}
