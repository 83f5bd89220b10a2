import { Controller, Get, Inject, NotFoundException, Res } from '@nestjs/common';
import type { Response } from 'express';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DEMO_CONFIG, type DemoConfig } from './demo.config.js';

interface WebAsset {
  file: string;
  contentType: string;
}

/** The files `scripts/build-web.mjs` writes; nothing else under the web root is served. */
export const WEB_ASSETS: Readonly<Record<string, WebAsset>> = {
  index: { file: 'index.html', contentType: 'text/html; charset=utf-8' },
  script: { file: 'app.js', contentType: 'text/javascript; charset=utf-8' },
  sourceMap: { file: 'app.js.map', contentType: 'application/json; charset=utf-8' },
  styles: { file: 'app.css', contentType: 'text/css; charset=utf-8' },
};

/** Same-origin only: the page talks to this server's REST routes and socket.io endpoint. */
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "connect-src 'self' ws: wss:",
  "img-src 'self' data:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * Serves the reference server's web page (built by `npm run build` into `dist/web`) at `/`.
 * A fixed list of files, read at each request so a rebuild shows without a restart.
 */
@Controller()
export class WebPageController {
  constructor(@Inject(DEMO_CONFIG) private readonly config: DemoConfig) {}

  @Get()
  index(@Res() response: Response): Promise<void> {
    return this.serve(response, 'index');
  }

  @Get('app.js')
  script(@Res() response: Response): Promise<void> {
    return this.serve(response, 'script');
  }

  @Get('app.js.map')
  sourceMap(@Res() response: Response): Promise<void> {
    return this.serve(response, 'sourceMap');
  }

  @Get('app.css')
  styles(@Res() response: Response): Promise<void> {
    return this.serve(response, 'styles');
  }

  private async serve(response: Response, name: keyof typeof WEB_ASSETS): Promise<void> {
    const asset = WEB_ASSETS[name];
    const root = this.config.webRoot;
    if (!asset || root === undefined) throw notBuilt();
    let body: Buffer;
    try {
      body = await readFile(join(root, asset.file));
    } catch {
      throw notBuilt();
    }
    response
      .status(200)
      .set({
        'Content-Type': asset.contentType,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
      })
      .send(body);
  }
}

function notBuilt(): NotFoundException {
  return new NotFoundException('the web page is not built; run `npm run build`');
}
