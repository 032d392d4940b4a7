import { useState } from 'preact/hooks';
import { useLocation, useRoute } from 'preact-iso';
import { actingKey, api, can, type Page } from '../api';
import { Card, ErrorNotice, Spinner, useLoad } from '../components/ui';
import { formatBytes, formatDate, formatDuration } from '../format';
import { CreateNamedForm } from '../browse/create-form';
import { nameProblem } from '../browse/files';
import { KeyReveal } from '../browse/key-reveal';
import { upsertFirst } from '../browse/paging';
import type { Container, CreatedService, Service } from '../browse/types';
import { usePaged } from '../browse/use-paged';
import { Badge, Breadcrumbs, describedBy, Field, LoadMore, SearchField } from '../browse/widgets';

const PAGE_SIZE = 50;

/** One container: what it is, its limits, its services (search, paging, a new service with its two keys). */
export default function ContainerPage() {
  const { params } = useRoute();
  const id = params.id;
  const keyId = actingKey.value?.id;
  const container = useLoad(() => api<Container>(`/containers/${id}`), [id, keyId]);
  const [name, setName] = useState('');
  const services = usePaged<Service>(
    (cursor) => api<Page<Service>>(`/containers/${id}/services`, { query: { name, cursor, limit: PAGE_SIZE } }),
    [id, name, keyId],
  );
  const [created, setCreated] = useState<CreatedService | null>(null);

  if (container.loading && !container.data) return <Spinner label="Loading the container…" />;
  if (!container.data) {
    return (
      <section>
        <h1>Container</h1>
        <ErrorNotice error={container.error} />
      </section>
    );
  }
  const current = container.data;
  return (
    <section>
      <Breadcrumbs
        items={[...(actingKey.value?.resource.type === 'provider' ? [{ label: 'Containers', href: '/containers' }] : []), { label: current.name }]}
      />
      <div class="page-title">
        <h1>{current.name}</h1>
        <div class="actions">
          {current.suspended && <Badge tone="warn">Suspended</Badge>}
          {can('usage:read') && (
            <a class="button secondary" href={`/containers/${id}/usage`}>
              Usage
            </a>
          )}
        </div>
      </div>
      <ErrorNotice error={container.error} />
      <ContainerDetails container={current} onChange={(updated) => container.setData(updated)} />
      {created && (
        <KeyReveal
          title={`Service "${created.name}" created`}
          keys={[
            { label: 'Serviceadmin key', secret: created.key, hint: 'Manages the service: settings, profile, files and keys.' },
            { label: 'Servicecustomer key', secret: created.customerKey, hint: 'For the customer: files, jobs, usage and keys of this service, no settings.' },
          ]}
          onDone={() => setCreated(null)}
        />
      )}
      {can('service:create') && !created && (
        <CreateService
          containerId={id}
          onCreated={(service) => {
            setCreated(service);
            const { key: _k, keyId: _ki, customerKey: _c, customerKeyId: _ci, ...plain } = service;
            services.setItems((items) => upsertFirst(items, plain as Service));
          }}
        />
      )}
      <Card title="Services" actions={<SearchField label="Search services by name" value={name} onChange={setName} />}>
        <ErrorNotice error={services.error} onDismiss={services.clearError} />
        {services.loading ? (
          <Spinner label="Loading services…" />
        ) : services.items.length === 0 ? (
          <p class="muted">{name ? `No service's name contains "${name}".` : 'No services yet.'}</p>
        ) : (
          <div class="table-wrap">
            <table class="browse-table">
              <caption class="sr-only">Services of {current.name}</caption>
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">State</th>
                  <th scope="col" class="optional">
                    Disk quota
                  </th>
                  <th scope="col" class="optional">
                    Created
                  </th>
                  <th scope="col">
                    <span class="sr-only">Links</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {services.items.map((service) => (
                  <tr key={service.id} data-service-id={service.id}>
                    <td>
                      <a href={`/services/${service.id}`}>{service.name}</a>
                      {service.description && <small class="block">{service.description}</small>}
                    </td>
                    <td>
                      <ServiceState service={service} />
                    </td>
                    <td class="optional">{service.diskQuota === null ? <span class="muted">none</span> : formatBytes(service.diskQuota)}</td>
                    <td class="optional">{formatDate(service.createdAt)}</td>
                    <td class="row-links">
                      {can('usage:read') && (
                        <a href={`/services/${service.id}/usage`} aria-label={`Usage of ${service.name}`}>
                          Usage
                        </a>
                      )}
                      {can('service:update') && (
                        <a href={`/services/${service.id}/settings`} aria-label={`Settings of ${service.name}`}>
                          Settings
                        </a>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <LoadMore paged={services} noun={['service', 'services']} />
      </Card>
      {can('container:delete') && <DeleteContainer container={current} />}
    </section>
  );
}

export function ServiceState({ service }: { service: Pick<Service, 'suspended' | 'startsAt' | 'endsAt'> }) {
  const now = Date.now();
  if (service.suspended) return <Badge tone="warn">Suspended</Badge>;
  if (service.startsAt && new Date(service.startsAt).getTime() > now) return <Badge tone="warn">Starts {formatDate(service.startsAt)}</Badge>;
  if (service.endsAt && new Date(service.endsAt).getTime() <= now) return <Badge tone="warn">Ended {formatDate(service.endsAt)}</Badge>;
  return <Badge tone="ok">Active</Badge>;
}

function ContainerDetails({ container, onChange }: { container: Container; onChange: (container: Container) => void }) {
  const [editing, setEditing] = useState(false);
  const [name, setName] = useState(container.name);
  const [description, setDescription] = useState(container.description ?? '');
  const [problem, setProblem] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const save = async (event: Event) => {
    event.preventDefault();
    const reason = nameProblem(name);
    setProblem(reason);
    if (reason) return;
    try {
      onChange(await api<Container>(`/containers/${container.id}`, { method: 'PATCH', body: { name, description: description.trim() } }));
      setEditing(false);
      setError(null);
    } catch (caught) {
      setError(caught);
    }
  };
  const limit = (value: number | null, format: (value: number) => string) => (value === null ? <span class="muted">no limit</span> : format(value));
  return (
    <Card
      title="Details"
      actions={
        can('container:update') &&
        !editing && (
          <button
            type="button"
            class="secondary"
            onClick={() => {
              setName(container.name);
              setDescription(container.description ?? '');
              setEditing(true);
            }}
          >
            Edit
          </button>
        )
      }
    >
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      {editing ? (
        <form class="inline" onSubmit={save} noValidate>
          <Field id="edit-container-name" label="Name" error={problem}>
            <input
              {...describedBy('edit-container-name', problem)}
              value={name}
              required
              maxLength={255}
              onInput={(e) => setName((e.target as HTMLInputElement).value)}
            />
          </Field>
          <label>
            Description
            <input value={description} maxLength={4000} onInput={(e) => setDescription((e.target as HTMLInputElement).value)} />
          </label>
          <div class="actions">
            <button type="submit">Save</button>
            <button type="button" class="secondary" onClick={() => setEditing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : (
        <dl class="browse-facts">
          <dt>Description</dt>
          <dd>{container.description || <span class="muted">—</span>}</dd>
          <dt>Disk quota</dt>
          <dd>{limit(container.diskQuota, formatBytes)}</dd>
          <dt>Monthly ingest quota</dt>
          <dd>{limit(container.ingestQuota, formatBytes)}</dd>
          <dt>Monthly job runtime quota</dt>
          <dd>{limit(container.jobruntimeQuota, formatDuration)}</dd>
          <dt>Created</dt>
          <dd>{formatDate(container.createdAt)}</dd>
          <dt>Id</dt>
          <dd>
            <code>{container.id}</code>
          </dd>
        </dl>
      )}
    </Card>
  );
}

function CreateService({ containerId, onCreated }: { containerId: string; onCreated: (service: CreatedService) => void }) {
  return (
    <CreateNamedForm<CreatedService>
      title="Create a service"
      path={`/containers/${containerId}/services`}
      inputId="service-name"
      nameLabel="Service name"
      submitLabel="Create service"
      onCreated={onCreated}
    />
  );
}

function DeleteContainer({ container }: { container: Container }) {
  const { route } = useLocation();
  const [typed, setTyped] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const remove = async (event: Event) => {
    event.preventDefault();
    if (typed !== container.name) return;
    setBusy(true);
    try {
      await api(`/containers/${container.id}`, { method: 'DELETE' });
      route(actingKey.value?.resource.type === 'provider' ? '/containers' : '/');
    } catch (caught) {
      setError(caught);
      setBusy(false);
    }
  };
  return (
    <details class="card danger-zone">
      <summary>Delete this container</summary>
      <p>Deletes every service, folder, file, job and key inside it. This cannot be undone.</p>
      <ErrorNotice error={error} onDismiss={() => setError(null)} />
      <form class="inline" onSubmit={remove}>
        <label>
          Type the container's name, {container.name}, to confirm
          <input value={typed} autoComplete="off" onInput={(e) => setTyped((e.target as HTMLInputElement).value)} />
        </label>
        <button type="submit" class="danger" disabled={typed !== container.name || busy}>
          Delete container
        </button>
      </form>
    </details>
  );
}
