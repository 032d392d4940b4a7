import { useState } from 'preact/hooks';
import { actingKey, api, can, type Page } from '../api';
import { Card, ErrorNotice, Spinner } from '../components/ui';
import { formatDate, resourcePath } from '../format';
import { CreateNamedForm } from '../browse/create-form';
import { KeyReveal } from '../browse/key-reveal';
import { upsertFirst } from '../browse/paging';
import type { Container, WithKey } from '../browse/types';
import { usePaged } from '../browse/use-paged';
import { Badge, LoadMore, SearchField } from '../browse/widgets';

const PAGE_SIZE = 50;

/** The provider's containers: search, keyset paging, and a new container with its containeradmin key. */
export default function Containers() {
  const key = actingKey.value;
  const [name, setName] = useState('');
  const paged = usePaged<Container>((cursor) => api<Page<Container>>('/containers', { query: { name, cursor, limit: PAGE_SIZE } }), [name, key?.id]);
  const [created, setCreated] = useState<WithKey<Container> | null>(null);
  const reachesContainers = key?.resource.type === 'provider' || key?.resource.type === 'container';

  return (
    <section>
      <h1>Containers</h1>
      {!reachesContainers && key && (
        <p class="notice">
          The key you act with opens a {key.resource.type}, not containers. <a href={resourcePath(key.resource)}>Open it</a>.
        </p>
      )}
      {created && (
        <KeyReveal
          title={`Container "${created.name}" created`}
          keys={[{ label: 'Containeradmin key', secret: created.key, hint: 'Give it to whoever runs this container: it creates and manages its services.' }]}
          onDone={() => setCreated(null)}
        />
      )}
      {can('container:create') && !created && (
        <CreateContainer
          onCreated={(container) => {
            setCreated(container);
            const { key: _secret, keyId: _id, ...plain } = container;
            paged.setItems((items) => upsertFirst(items, plain as Container));
          }}
        />
      )}
      <Card title="All containers" actions={<SearchField label="Search by name" value={name} onChange={setName} />}>
        <ErrorNotice error={paged.error} onDismiss={paged.clearError} />
        {paged.loading ? (
          <Spinner label="Loading containers…" />
        ) : paged.items.length === 0 ? (
          <p class="muted">{name ? `No container's name contains "${name}".` : 'No containers yet.'}</p>
        ) : (
          <div class="table-wrap">
            <table class="browse-table">
              <caption class="sr-only">Containers</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col" class="optional">
                    Description
                  </th>
                  <th scope="col">State</th>
                  <th scope="col" class="optional">
                    Created
                  </th>
                  <th scope="col">
                    <span class="sr-only">Links</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {paged.items.map((container) => (
                  <tr key={container.id} data-container-id={container.id}>
                    <td>
                      <a href={`/containers/${container.id}`}>{container.name}</a>
                    </td>
                    <td class="optional">{container.description ?? <span class="muted">—</span>}</td>
                    <td>{container.suspended ? <Badge tone="warn">Suspended</Badge> : <Badge tone="ok">Active</Badge>}</td>
                    <td class="optional">{formatDate(container.createdAt)}</td>
                    <td class="row-links">
                      {can('usage:read') && (
                        <a href={`/containers/${container.id}/usage`} aria-label={`Usage of ${container.name}`}>
                          Usage
                        </a>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <LoadMore paged={paged} noun={['container', 'containers']} />
      </Card>
    </section>
  );
}

function CreateContainer({ onCreated }: { onCreated: (container: WithKey<Container>) => void }) {
  return (
    <CreateNamedForm<WithKey<Container>>
      title="Create a container"
      path="/containers"
      inputId="container-name"
      nameLabel="Name"
      submitLabel="Create container"
      onCreated={onCreated}
    />
  );
}
