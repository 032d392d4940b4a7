import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { actingKey, api, can } from '../api';
import { Card, ErrorNotice, Spinner, useLoad } from '../components/ui';
import { ProfileEditor } from '../settings/profile-editor';
import { PropertiesForm } from '../settings/properties-form';
import { ServiceView } from '../settings/service-form';
import { Webhook, WebhooksCard } from '../settings/webhooks-card';

/**
 * A service's settings, for holders of service:update or service:manage: its properties, its processing profile
 * (triggers → steps) and its webhooks. Quotas, suspension, window, speed and priority are on its usage page.
 */
export default function ServiceSettings() {
  const { params } = useRoute();
  const serviceId = params.id;
  const keyId = actingKey.value?.id;
  const allowed = can('service:update') || can('service:manage');
  const service = useLoad(() => (allowed ? api<ServiceView>(`/services/${serviceId}`) : Promise.resolve(undefined)), [serviceId, keyId, allowed]);
  const hooks = useLoad(
    () => (allowed ? api<{ items: Webhook[] }>(`/services/${serviceId}/webhooks`) : Promise.resolve(undefined)),
    [serviceId, keyId, allowed],
  );
  const [webhooks, setWebhooks] = useState<Webhook[]>([]);
  useEffect(() => setWebhooks(hooks.data?.items ?? []), [hooks.data]);

  if (!allowed) {
    return (
      <section>
        <h1>Service settings</h1>
        <p>
          This key cannot change a service’s settings: that needs the action <code>service:update</code>.{' '}
          <a href={`/services/${serviceId}`}>Back to the service</a>.
        </p>
      </section>
    );
  }
  if (service.error) {
    return (
      <section>
        <h1>Service settings</h1>
        <ErrorNotice error={service.error} />
      </section>
    );
  }
  if (!service.data) return <Spinner />;
  const data = service.data;

  return (
    <section class="service-settings">
      <nav aria-label="Breadcrumb">
        <ol class="breadcrumbs">
          {can('container:read') && (
            <li>
              <a href={`/containers/${data.containerId}`}>Container</a>
            </li>
          )}
          <li>
            <a href={`/services/${data.id}`}>{data.name}</a>
          </li>
          <li aria-current="page">Settings</li>
        </ol>
      </nav>
      <h1>Settings of {data.name}</h1>
      <ul class="settings-jump">
        <li>
          <a href="#settings-properties">Properties</a>
        </li>
        <li>
          <a href="#settings-profile">Processing profile</a>
        </li>
        <li>
          <a href="#settings-webhooks">Webhooks</a>
        </li>
      </ul>
      <div id="settings-properties">
        <Card title="Properties">
          <PropertiesForm
            service={data}
            canUpdate={can('service:update')}
            canManage={can('service:manage')}
            canListProfiles={can('container:read')}
            onSaved={service.setData}
          />
        </Card>
      </div>
      <div id="settings-profile">
        <Card title="Processing profile">
          {/* keyed on the selection: choosing or clearing a container profile changes what the editor shows */}
          <ProfileEditor key={`${data.id}:${data.profile ?? ''}`} serviceId={data.id} canEdit={can('service:update')} webhooks={webhooks} />
        </Card>
      </div>
      <div id="settings-webhooks">
        <Card title="Webhooks">
          {hooks.error ? (
            <ErrorNotice error={hooks.error} />
          ) : hooks.loading && !hooks.data ? (
            <Spinner />
          ) : (
            <WebhooksCard serviceId={data.id} webhooks={webhooks} canEdit={can('service:update')} onChange={setWebhooks} />
          )}
        </Card>
      </div>
    </section>
  );
}
