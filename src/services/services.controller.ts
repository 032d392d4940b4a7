import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Auth, Authorize, RequestAuth } from '../keys/authorize.decorator';
import { CreateServiceDto, ListServicesQuery, UpdateServiceDto } from './dto';
import { ServicesService } from './services.service';
import { ApiDone, ApiPage, ApiResource } from '../common/api-responses';
import { CreatedServiceSchema, ServiceSchema } from './service.schema';

@ApiTags('services')
@Controller()
export class ServicesController {
  constructor(private readonly services: ServicesService) {}

  @Post('containers/:id/services')
  @Authorize('service:create', 'container')
  @ApiOperation({ summary: 'Create a service; the response carries its serviceadmin `key` and servicecustomer `customerKey`, shown once' })
  @ApiResource(CreatedServiceSchema, 'The service with `rootFolderId` and its two keys (shown once)', 201)
  create(@Auth() auth: RequestAuth, @Param('id') containerId: string, @Body() dto: CreateServiceDto) {
    return this.services.create(auth, containerId, dto);
  }

  @Get('containers/:id/services')
  @Authorize('service:read', 'container')
  @ApiOperation({ summary: 'List the services of a container' })
  @ApiPage(ServiceSchema, 'A page of the services')
  list(@Auth() auth: RequestAuth, @Param('id') containerId: string, @Query() query: ListServicesQuery) {
    return this.services.list(auth, containerId, query);
  }

  @Get('services/:id')
  @Authorize('service:read', 'service')
  @ApiOperation({ summary: 'Read a service and its properties' })
  @ApiResource(ServiceSchema, 'The service with `rootFolderId`')
  get(@Param('id') id: string) {
    return this.services.get(id);
  }

  @Patch('services/:id')
  @Authorize('service:update', 'service')
  @ApiOperation({ summary: 'Update a service; management properties (suspended, window, priority, quota) also need service:manage' })
  @ApiResource(ServiceSchema, 'The service as it is now, with `rootFolderId`')
  update(@Auth() auth: RequestAuth, @Param('id') id: string, @Body() dto: UpdateServiceDto) {
    return this.services.update(auth, id, dto);
  }

  @Delete('services/:id')
  @HttpCode(204)
  @Authorize('service:delete', 'service')
  @ApiOperation({ summary: 'Delete a service with all its folders, files, jobs and keys' })
  @ApiDone('Deleted, with everything inside')
  async remove(@Param('id') id: string) {
    await this.services.remove(id);
  }
}
