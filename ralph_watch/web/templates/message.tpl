% rebase('base')
<section class="card">
  <h1>{{title}}</h1>
  <p class="message">{{message}}</p>
  % if back:
  <p><a class="button" href="/">Back to the status page</a></p>
  % end
</section>
