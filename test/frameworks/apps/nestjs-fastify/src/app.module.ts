import { Module } from '@nestjs/common';
import { AppController } from './app.controller.js';
import { ItemsService } from './items.service.js';

@Module({
  controllers: [AppController],
  providers: [ItemsService],
})
export class AppModule {}
