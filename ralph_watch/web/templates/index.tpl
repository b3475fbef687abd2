% rebase('base')
<div id="banners">
  <p class="banner banner-warn" id="banner-paused" role="status"{{'' if banners['paused'] else ' hidden'}}>Publishing is
    paused: nothing is sent to TikTok until you press “Resume publishing”. Due videos wait as scheduled.</p>
  % if cards:
  <p class="banner banner-warn" id="banner-logged-out" role="status"{{'' if banners['logged_out'] else ' hidden'}}>{{logged_out}}
    of {{len(cards)}} TikTok accounts {{'is' if logged_out == 1 else 'are'}} logged out: their videos are not published
    until you log them in below. The other accounts keep publishing.</p>
  % else:
  <p class="banner banner-warn" id="banner-logged-out" role="status"{{'' if banners['logged_out'] else ' hidden'}}>The
    TikTok account is logged out: nothing is published until you log in with TikTok below.</p>
  % end
  <p class="banner banner-danger" id="banner-inbox" role="alert"{{'' if banners['inbox_lost'] else ' hidden'}}>The
    inbox folder cannot be read (is its disk or network share still mounted?): new videos are not seen and
    nothing is deleted until it is back.</p>
</div>
% if cards:
% include('accounts', cards=cards, csrf=csrf, music_url=music_url)
% else:
<section class="card account" id="account" data-logged-in="{{'yes' if account else 'no'}}">
% if account:
  <div class="who">
    % if account['avatar']:
    <img class="avatar" src="/avatar" alt="" width="56" height="56">
    % end
    <div>
      <h1>Logged in as <span class="nick">{{account['nickname']}}</span></h1>
      % if account['relogin_text']:
      <p class="{{'warn' if account['relogin_soon'] else 'muted'}}">A new TikTok login will be needed by
        {{account['relogin_text']}} ({{account['relogin_relative']}}).</p>
      % end
    </div>
    <form method="post" action="/logout" class="inline push" data-confirm="Log out of TikTok? Nothing is published until you log in again.">
      <input type="hidden" name="csrf" value="{{csrf}}">
      <button type="submit">Log out</button>
    </form>
  </div>
  <p class="notice">By posting, you agree to TikTok's
    <a href="{{music_url}}" rel="noopener noreferrer" target="_blank">Music Usage Confirmation</a>.</p>
% else:
  <h1>Not logged in</h1>
  <p>Log in so ralph-watch can publish the videos in your inbox to your TikTok account at the times
    their sidecar files ask for. After TikTok confirms a post, the video and its sidecar are deleted.
    The login stays in this service's memory only and is forgotten when you log out or it stops.</p>
  <p class="actions"><a class="button primary" href="/login">Log in with TikTok</a>
    <a href="/privacy">What happens to your data</a></p>
% end
</section>
% end

% if warnings:
<section class="card warnings" aria-label="Warnings">
  <ul>
  % for w in warnings:
    <li>{{w}}</li>
  % end
  </ul>
</section>
% end

% if unaudited:
<section class="card warnings" id="unaudited">
  <h2>This TikTok app has not passed TikTok's audit yet</h2>
  <p>Until it does, TikTok accepts posts from it only as private ("only me") posts from a private
    account, for at most 5 posting accounts a day. Make your TikTok account private and set
    <code>privacy: private</code>, or use <code>mode: draft</code>: the video is sent to your TikTok
    inbox and you publish it, publicly if you like, from the TikTok app.</p>
</section>
% end

<section class="card service">
  <h2>Service</h2>
  <dl class="facts" id="health" data-ok="{{'yes' if health['ok'] else 'no'}}">
    <dt>Health</dt><dd id="health-state">{{'OK' if health['ok'] else 'Problem: ' + (health['reason'] or 'unknown')}}</dd>
    <dt>Watching</dt><dd>{{health['mode']}}{{(' (' + health['why'] + ')') if health['why'] else ''}}</dd>
    <dt>Last scan</dt><dd>{{health['last_scan']}}</dd>
    <dt>Inbox</dt><dd>{{'reachable' if health['inbox_ok'] else ('not reachable' if health['inbox_ok'] is not None else 'unknown')}}</dd>
    <dt>Publishing</dt><dd id="paused-state">{{'paused' if paused else 'running'}}</dd>
    <dt>Time zone</dt><dd id="tz-name">{{tz_name}}</dd>
    % if emulator_url:
    <dt>TikTok</dt><dd><a id="emulator-link" href="{{emulator_url}}">the TikTok emulator: what it received</a></dd>
    % end
  </dl>
  % if paused:
  <form method="post" action="/resume" class="inline">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit" class="primary">Resume publishing</button>
  </form>
  % else:
  <form method="post" action="/pause" class="inline">
    <input type="hidden" name="csrf" value="{{csrf}}">
    <button type="submit">Pause publishing</button>
  </form>
  % end
</section>

<section class="card summary" id="summary" aria-label="Summary">
  <ul class="counts" id="counts">
    % for s in states:
    %   if counts.get(s):
    <li><span class="badge s-{{s}}">{{s}}</span> <span class="n">{{counts[s]}}</span></li>
    %   end
    % end
    % if not counts:
    <li class="muted">no tasks yet</li>
    % end
  </ul>
  % if quota:
  <div class="quota" id="quota">
    <label>Direct posts, last 24 h: <strong>{{quota['posts']}} of {{quota['posts_cap']}}</strong>
      <meter min="0" max="{{quota['posts_cap']}}" value="{{quota['posts']}}" low="{{quota['posts_cap'] * 2 // 3}}"
             high="{{quota['posts_cap'] - 1}}" optimum="0">{{quota['posts']}} of {{quota['posts_cap']}}</meter></label>
    <label>Pending drafts: <strong>{{quota['drafts']}} of {{quota['drafts_cap']}}</strong>
      <meter min="0" max="{{quota['drafts_cap']}}" value="{{quota['drafts']}}" low="{{quota['drafts_cap'] * 2 // 3}}"
             high="{{quota['drafts_cap'] - 1}}" optimum="0">{{quota['drafts']}} of {{quota['drafts_cap']}}</meter></label>
  </div>
  % end
</section>

<section class="card tasks">
  <h2>Tasks</h2>
  % if cards:
  % keep = order if order != 'attention' else None
  <nav class="filters account-filter" id="account-filter" aria-label="Filter by account">
    <span class="muted">Account:</span>
    <a href="{{href(state=state, order=keep)}}" class="{{'current' if not selected else ''}}">all</a>
    % for c in cards:
    <a href="{{href(state=state, order=keep, account=c['name'])}}" class="{{'current' if c['name'] == selected else ''}}">{{c['name']}}</a>
    % end
  </nav>
  % end
  <nav class="filters" id="filters" aria-label="Filter by state" data-states="{{' '.join(states)}}">
    <a href="{{href(account=selected)}}" class="{{'current' if not state else ''}}">all ({{sum(counts.values())}})</a>
    % for s in states:
    %   if counts.get(s) or s == state:
    <a href="{{href(state=s, account=selected)}}" class="{{'current' if s == state else ''}}">{{s}} ({{counts.get(s, 0)}})</a>
    %   end
    % end
  </nav>
  <p class="order" id="order">
    % if order == 'attention':
    Needing a person first · <a href="{{href(state=state, order='due', account=selected)}}">due order</a>
    % else:
    <a href="{{href(state=state, order='attention', account=selected)}}">needing a person first</a> · due order
    % end
  </p>
  <div class="scroll">
  <table id="tasks" data-state="{{state or ''}}" data-order="{{order}}" data-limit="{{page_size}}" data-offset="{{(page - 1) * page_size}}"
         data-tz="{{tz_name}}" data-account="{{selected or ''}}" data-several="{{'yes' if cards else 'no'}}" data-post-base="{{'https://www.tiktok.com/@' + account['username'] + '/video/' if account and account['username'] else 'https://www.tiktok.com/video/'}}">
    <thead>
      <tr><th>Video</th>{{!'<th>Account</th>' if cards else ''}}<th>Title</th><th>Privacy</th><th>Mode</th><th>Due ({{tz_name}})</th><th>State</th><th>Actions</th></tr>
    </thead>
    <tbody>
    % whos = {c['name']: ('@' + c['username']) if c['username'] else (c['nickname'] or c['name']) for c in cards}
    % for r in rows:
      <tr id="task-{{r.id}}" data-id="{{r.id}}" data-name="{{r.video}}" data-note="{{r.note}}"
          data-files="{{' and '.join(r.files)}}" class="{{'attention' if r.attention else ''}}">
        <td data-label="Video" class="c-video">
          % if r.has_video:
          <img class="thumb" src="/tasks/{{r.id}}/thumbnail" alt="" loading="lazy" width="48" height="64">
          % end
          <span class="name">{{r.video}}</span>
          % if r.facts:
          <span class="facts-line">{{r.facts}}</span>
          % end
          % if r.has_video:
          <a class="preview" href="/tasks/{{r.id}}/video" aria-label="Preview {{r.video}}"
             % if cards:
             data-who="{{whos.get(r.account, '')}}"
             % end
             data-title="{{r.title}}" data-privacy="{{r.privacy}}" data-mode="{{r.mode}}" data-switches="{{r.switches}}">Preview</a>
          % end
        </td>
        % if cards:
        <td data-label="Account" class="c-short c-account">{{r.account}}</td>
        % end
        <td data-label="Title" class="c-title">{{r.title}}</td>
        <td data-label="Privacy" class="c-short">{{r.privacy}}</td>
        <td data-label="Mode" class="c-short">{{r.mode}}</td>
        <td data-label="Due" class="c-due">
          % if r.due_text:
          <time class="dual" datetime="{{r.due_iso}}">{{r.due_text}}</time> <span class="zone">{{tz_name}}</span> <span class="rel">{{r.due_relative}}</span>
          % end
        </td>
        <td data-label="State" class="c-state">
          <span class="badge s-{{r.state}}">{{r.state}}</span>
          % if r.progress is not None:
          <progress max="1" value="{{'%.3f' % r.progress}}">{{'%d %%' % round(r.progress * 100)}}</progress>
          <span class="progress-text">{{r.progress_text}}</span>
          % end
          % if r.published_text:
          <p class="when">Published <time class="dual" datetime="{{r.published_iso}}">{{r.published_text}}</time> <span class="zone">{{tz_name}}</span></p>
          % end
          % if r.status_text:
          <p class="status-text">{{r.status_text}}</p>
          % end
          % if r.error:
          <p class="error">{{r.error}}</p>
          % end
          % if r.note:
          <p class="note">{{r.note}}</p>
          % end
          % if r.post_url:
          <a class="post" href="{{r.post_url}}" rel="noopener noreferrer" target="_blank" aria-label="View {{r.video}} on TikTok">View on TikTok</a>
          % end
          % if r.copy_caption:
          <button type="button" class="copy" data-caption="{{r.title}}" aria-label="Copy caption of {{r.video}}" hidden>Copy caption</button>
          % end
        </td>
        <td class="c-actions">
          % for a in r.actions:
          % text, label = action_label(a, r.video)
          <form method="post" action="/tasks/{{r.id}}/{{a}}" class="inline"
            % if a == 'cancel':
                data-confirm="Cancel {{r.video}}? Both files will be deleted from the inbox: {{' and '.join(r.files) or r.video}}."
            % end
          >
            <input type="hidden" name="csrf" value="{{csrf}}">
            <button type="submit" class="{{'danger' if a == 'cancel' else ''}}" aria-label="{{label}}">{{text}}</button>
          </form>
          % end
        </td>
      </tr>
    % end
    </tbody>
  </table>
  </div>
  % if not rows:
  <p class="muted" id="empty">No tasks{{' in state ' + state if state else ''}}{{' of ' + selected if selected else ''}}. Drop a video and its .yaml sidecar into the inbox.</p>
  % end
  <dialog id="player" aria-labelledby="player-title"
          data-who="{{('@' + account['username']) if account and account['username'] else (account['nickname'] if account else 'your TikTok account')}}">
    <div class="phone">
      <video controls playsinline preload="metadata"></video>
      <div class="overlay">
        <p class="who" id="player-who"></p>
        <p class="caption" id="player-title"></p>
      </div>
    </div>
    <p class="player-meta" id="player-meta"></p>
    <form method="dialog"><button type="submit">Close preview</button></form>
  </dialog>
  % if pages > 1:
  <nav class="pager" aria-label="Pages">
    % keep = order if order != 'attention' else None
    % if page > 1:
    <a href="{{href(state=state, order=keep, account=selected, page=page - 1)}}">← earlier</a>
    % end
    <span>page {{page}} of {{pages}} ({{total}} tasks)</span>
    % if page < pages:
    <a href="{{href(state=state, order=keep, account=selected, page=page + 1)}}">later →</a>
    % end
  </nav>
  % end
</section>
