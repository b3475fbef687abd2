<section class="accounts" id="accounts" aria-labelledby="accounts-title">
  <h1 id="accounts-title">TikTok accounts</h1>
  <div class="account-grid">
  % for c in cards:
  <article class="card account-card" data-account="{{c['name']}}" data-logged-in="{{'yes' if c['logged_in'] else 'no'}}"
           aria-labelledby="acct-{{c['name']}}">
    <div class="who">
      % if c['avatar']:
      <img class="avatar" src="/avatar?account={{c['name']}}" alt="" width="48" height="48">
      % end
      <div>
        <h2 id="acct-{{c['name']}}" class="acct-name">{{c['name']}}</h2>
        % if c['logged_in']:
        <p class="nick-line"><span class="nick">{{c['nickname']}}</span>
          % if c['username']:
          <span class="handle">@{{c['username']}}</span>
          % end
        </p>
        % else:
        <p class="muted">Not logged in</p>
        % end
      </div>
    </div>
    <p class="inbox-line">Inbox: <code>{{c['inbox']}}</code></p>
    % if c['needs_login']:
    <p class="warn needs-login">{{c['needs_login']}} {{'video waits' if c['needs_login'] == 1 else 'videos wait'}} for this login.</p>
    % end
    % q = c['quota']
    % if q:
    <div class="quota">
      <label>Direct posts, last 24 h: <strong>{{q['posts']}} of {{q['posts_cap']}}</strong>
        <meter min="0" max="{{q['posts_cap']}}" value="{{q['posts']}}" low="{{q['posts_cap'] * 2 // 3}}"
               high="{{q['posts_cap'] - 1}}" optimum="0">{{q['posts']}} of {{q['posts_cap']}}</meter></label>
      <label>Pending drafts: <strong>{{q['drafts']}} of {{q['drafts_cap']}}</strong>
        <meter min="0" max="{{q['drafts_cap']}}" value="{{q['drafts']}}" low="{{q['drafts_cap'] * 2 // 3}}"
               high="{{q['drafts_cap'] - 1}}" optimum="0">{{q['drafts']}} of {{q['drafts_cap']}}</meter></label>
    </div>
    % end
    <p class="actions">
    % if c['logged_in']:
      <form method="post" action="/logout" class="inline"
            data-confirm="Log out {{c['name']}} of TikTok? Its videos are not published until you log it in again.">
        <input type="hidden" name="csrf" value="{{csrf}}">
        <input type="hidden" name="account" value="{{c['name']}}">
        <button type="submit" aria-label="Log out {{c['name']}}">Log out</button>
      </form>
    % else:
      <a class="button primary" href="/login?account={{c['name']}}" aria-label="Log in {{c['name']}} with TikTok">Log in with TikTok</a>
    % end
    </p>
  </article>
  % end
  </div>
  <p class="notice">Each account publishes the videos of its own inbox. By posting, you agree to TikTok's
    <a href="{{music_url}}" rel="noopener noreferrer" target="_blank">Music Usage Confirmation</a>.
    <a href="/privacy">What happens to your data</a></p>
</section>
