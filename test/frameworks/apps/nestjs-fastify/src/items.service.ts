import { Injectable } from '@nestjs/common';

export interface Item { id: number; name: string }

@Injectable()
export class ItemsService {
  private readonly items: Item[] = [{ id: 1, name: 'first' }, { id: 2, name: 'second' }];

  find(id: number): Item | undefined {
    return this.items.find((i) => i.id === id);
  }
}
